export { eventBusContract, type MakeEventBus } from './event-bus-contract.js';
