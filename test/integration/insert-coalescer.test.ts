import assert from 'node:assert/strict';
import { MongoClient, ObjectId, type Collection } from 'mongodb';
import { isMongoUnavailable } from '../../src/errors/backend-errors.js';
import { InsertCoalescer } from '../../src/messages/insert-coalescer.js';
import { sharedServers, startThrowawayMongo } from '../helpers/servers.js';

interface Doc {
  _id: ObjectId;
  n: number;
}

/** Group commit of the write-through send path, on the real MongoDB-protocol server. */
describe('InsertCoalescer (on a real MongoDB-protocol server)', function () {
  this.timeout(60000);
  let client: MongoClient;
  let collection: Collection<Doc>;
  const inserts: number[] = [];

  before(async function () {
    client = new MongoClient(sharedServers().mongoUri, { monitorCommands: true });
    client.on('commandStarted', (e) => {
      if (e.commandName === 'insert') {
        inserts.push((e.command as { documents: unknown[] }).documents.length);
      }
    });
    await client.connect();
    collection = client.db(`t_coalesce_${process.pid}`).collection<Doc>('docs');
  });

  after(async function () {
    await client?.db(`t_coalesce_${process.pid}`).dropDatabase();
    await client?.close();
  });

  beforeEach(function () {
    inserts.length = 0;
  });

  it('sends concurrent inserts together and answers each its own outcome', async function () {
    const coalescer = new InsertCoalescer(collection, { maxInFlight: 1 });
    const docs = Array.from({ length: 200 }, (_, n) => ({ _id: new ObjectId(), n }));
    const outcomes = await Promise.all(docs.map((d) => coalescer.insert(d)));
    assert.deepEqual(new Set(outcomes), new Set(['inserted']));
    assert.equal(await collection.countDocuments({ _id: { $in: docs.map((d) => d._id) } }), 200);
    assert.equal(
      inserts.reduce((a, b) => a + b, 0),
      200,
    );
    assert.ok(inserts.length < 10, `200 concurrent inserts took ${inserts.length} calls`);
  });

  it('sends a lone insert at once, and tells a duplicate from an insert in the same batch', async function () {
    const coalescer = new InsertCoalescer(collection);
    const first = { _id: new ObjectId(), n: 1 };
    assert.equal(await coalescer.insert(first), 'inserted');
    const fresh = { _id: new ObjectId(), n: 2 };
    const results = await Promise.all([coalescer.insert({ ...first }), coalescer.insert(fresh)]);
    assert.deepEqual(results, ['duplicate', 'inserted']);
    assert.equal(await collection.countDocuments({ _id: { $in: [first._id, fresh._id] } }), 2);
  });

  it('gives every waiting insert the error a single insert would get when MongoDB is down', async function () {
    const mongo = await startThrowawayMongo();
    const down = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 2000 });
    try {
      await down.connect();
      const coalescer = new InsertCoalescer(down.db('t').collection<Doc>('docs'));
      assert.equal(await coalescer.insert({ _id: new ObjectId(), n: 0 }), 'inserted');
      await mongo.stop();
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, (_, n) => coalescer.insert({ _id: new ObjectId(), n })),
      );
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        assert.ok(isMongoUnavailable(r.reason), `unavailable: ${String(r.reason)}`);
      }
    } finally {
      await down.close().catch(() => {});
      await mongo.stop().catch(() => {});
    }
  });
});
