import type { AnalyseOptions, AnalyseResult, PipelineSettings, SessionChoices } from '../pipeline.js';
import type { DetectorName } from '@facewatch/core';

export interface WorkerInit {
  settings: PipelineSettings;
  warmDetectors: DetectorName[];
  warmEmbedder: boolean;
}

export interface SerialisedError {
  code: string;
  message: string;
  retryable: boolean;
  details?: Record<string, unknown>;
}

export type ToWorker = { type: 'analyse'; id: number; bytes: ArrayBuffer; options: AnalyseOptions };

export type FromWorker =
  | { type: 'ready'; sessions: SessionChoices }
  | { type: 'fatal'; error: SerialisedError }
  | { type: 'result'; id: number; result: AnalyseResult }
  | { type: 'error'; id: number; error: SerialisedError };
