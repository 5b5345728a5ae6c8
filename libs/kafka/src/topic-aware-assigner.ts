import { AssignerProtocol, type Assigner, type PartitionAssigner } from 'kafkajs';

/**
 * Round-robin over the members that subscribe to each topic. kafkajs's RoundRobinAssigner spreads
 * the leader's topics over every member and leaves the other members' topics unassigned, so when
 * two deployments share a group id on one broker (a staging and a production matcher with their
 * own topic names, a test beside a running service) partitions stall: some handed to a member
 * that never reads them, the rest given to nobody. Members
 * here get only partitions of the topics they subscribe to. Consumers offer it first and the
 * round-robin assigner second, so a group still on the old assigner keeps working during a rolling
 * upgrade (the group uses a protocol every member offers).
 */
export const TopicAwareAssigner: PartitionAssigner = ({ cluster }): Assigner => ({
  name: 'FacewatchTopicAwareRoundRobin',
  version: 0,
  async assign({ members }) {
    const subscribed = new Map(members.map((m) => [m.memberId, new Set(AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.topics ?? [])]));
    // kafkajs passes the leader's own topics: the others' come from their metadata, and the
    // leader needs the partitions of those too
    const topics = [...new Set([...subscribed.values()].flatMap((t) => [...t]))].sort();
    // a topic that has gone from the broker only goes unassigned; it must not fail the group's sync
    await cluster.addMultipleTargetTopics(topics).catch(() => undefined);
    const assignment = new Map<string, Record<string, number[]>>();
    for (const topic of topics) {
      const takers = members
        .map((m) => m.memberId)
        .filter((id) => subscribed.get(id)!.has(topic))
        .sort();
      if (takers.length === 0) continue;
      let partitions: number[];
      try {
        partitions = cluster
          .findTopicPartitionMetadata(topic)
          .map((p) => p.partitionId)
          .sort((a, b) => a - b);
      } catch {
        continue; // no metadata for it (yet): nobody gets it this round
      }
      partitions.forEach((partition, i) => {
        const member = takers[i % takers.length]!;
        const mine = assignment.get(member) ?? {};
        (mine[topic] ??= []).push(partition);
        assignment.set(member, mine);
      });
    }
    return members.map(({ memberId }) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: assignment.get(memberId) ?? {}, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: 'FacewatchTopicAwareRoundRobin', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
  },
});
