import assert from 'node:assert/strict';
import { DisconnectsClientError, ErrorReply, RootNodesUnavailableError } from 'redis';
import { isAppError } from '../../src/errors/app-error.js';
import { isRedisUnavailable, mapBackendError } from '../../src/errors/backend-errors.js';

describe('backend errors', () => {
  it('takes a Redis Cluster failing over for unavailable: 503, not 500', () => {
    for (const err of [
      new DisconnectsClientError(),
      new RootNodesUnavailableError(),
      new ErrorReply('CLUSTERDOWN The cluster is down'),
      new ErrorReply('TRYAGAIN Multiple keys request during rehashing of slot'),
      new ErrorReply('LOADING Redis is loading the dataset in memory'),
      new ErrorReply(
        'UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)',
      ),
      new ErrorReply("READONLY You can't write against a read only replica."),
    ]) {
      assert.equal(isRedisUnavailable(err), true, err.message);
      const mapped = mapBackendError(err);
      assert.ok(isAppError(mapped) && mapped.code === 'SERVICE_UNAVAILABLE', err.message);
    }
  });

  it('leaves other error replies alone (a bug is a 500)', () => {
    const err = new ErrorReply('ERR wrong number of arguments');
    assert.equal(isRedisUnavailable(err), false);
    assert.equal(mapBackendError(err), err);
  });
});
