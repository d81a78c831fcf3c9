import assert from 'node:assert/strict';
import { KeySpace, keySlot, partitionTags } from '../../src/redis/key-space.js';

describe('KeySpace', () => {
  it('computes hash slots as Redis Cluster does (values from the CLUSTER KEYSLOT docs)', () => {
    assert.equal(keySlot('somekey'), 11058);
    assert.equal(keySlot('foo{hash_tag}'), 2515);
    assert.equal(keySlot('bar{hash_tag}'), 2515);
    assert.equal(keySlot('{}whole'), keySlot('{}whole'), 'an empty tag hashes the whole key');
    assert.notEqual(keySlot('{}a'), keySlot('{}b'));
  });

  it('gives partition i a tag hashing into the i-th equal slot range', () => {
    const tags = partitionTags(16);
    assert.equal(new Set(tags).size, 16);
    tags.forEach((tag, i) => {
      assert.equal(Math.floor(keySlot(`{${tag}}`) / 1024), i, `tag ${tag}`);
    });
  });

  it('keeps the key names of a single node when there is one untagged partition', () => {
    const space = new KeySpace('p:', 1, false);
    assert.equal(space.partitions.length, 1);
    assert.equal(space.forConversation('a', 'b').message('x'), 'p:message:x');
    assert.equal(space.forKey('p:message:x'), space.shared);
    assert.equal(space.forKey('other:message:x'), undefined);
  });

  it('puts every key of a conversation and its messages in one slot', () => {
    const space = new KeySpace('p:', 8, true);
    const [a, b] = ['64b000000000000000000001', '64b000000000000000000002'];
    const keys = space.forConversation(a, b);
    const id = space.newMessageId(a, b);
    assert.equal(space.forMessage(id), keys, 'the id names its partition');
    const names = [
      keys.message(id),
      keys.conversation(a, b),
      keys.conversationGeneration(a, b),
      keys.pending(a, b),
      keys.due,
      keys.dueSlots,
      `${keys.dueSlots}:c:123`,
      keys.inflight,
      keys.shadow,
      keys.attempts,
      keys.dead,
    ];
    assert.equal(new Set(names.map(keySlot)).size, 1, names.join(' '));
    assert.equal(space.forKey(keys.message(id)), keys);
    assert.match(id, /^[0-9a-f]{24}$/);
    assert.equal(space.forConversation(b, a), keys, 'both directions');
  });

  it('spreads conversations evenly over the partitions, consecutive ids too', () => {
    const space = new KeySpace('', 16, true);
    const hex = (n: number) => n.toString(16).padStart(24, '0');
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 1600; i++) counts[space.partitionOf(hex(2 * i), hex(2 * i + 1))]!++;
    assert.ok(Math.min(...counts) >= 60 && Math.max(...counts) <= 140, counts.join(' '));
  });

  it('spreads the known-users set over the partitions, one name on a single node', () => {
    const hex = (n: number) => n.toString(16).padStart(24, '0');
    const space = new KeySpace('', 16, true);
    const sets = new Set<string>();
    for (let i = 0; i < 320; i++) sets.add(space.forUser(hex(i)).knownUsers);
    assert.equal(sets.size, 16);
    assert.equal(space.forUser(hex(7)), space.forUser(hex(7)));
    assert.equal(new KeySpace('p:', 1, false).forUser(hex(7)).knownUsers, 'p:users:known');
  });

  it('tags a single partition on a cluster', () => {
    const space = new KeySpace('', 1, true);
    assert.match(space.partitions[0]!.due, /^\{\d+\}:expiry:due$/);
    assert.throws(() => new KeySpace('', 0, false), RangeError);
    assert.throws(() => new KeySpace('', 1025, true), RangeError);
  });

  it('names keys relative to their partition, as the cache service and the CLI take them', () => {
    const space = new KeySpace('p:', 4, true);
    const [a, b] = ['64b000000000000000000001', '64b000000000000000000002'];
    const id = space.newMessageId(a, b);
    const keys = space.forConversation(a, b);
    assert.equal(space.full(`message:${id}`), keys.message(id));
    assert.equal(space.full(`messages:${a}:${b}`), keys.conversation(a, b));
    assert.equal(space.relative(keys.message(id)), `message:${id}`);
    assert.equal(space.relative('elsewhere'), undefined);
    const other = space.full('greeting');
    assert.equal(space.relative(other), 'greeting');
    assert.equal(space.forKey(other)?.prefix, other.slice(0, -'greeting'.length));
    assert.equal(space.match('message:*'), 'p:{*}:message:*');
    assert.equal(new KeySpace('p*', 1, false).match('message:*'), 'p\\*message:*');
  });
});
