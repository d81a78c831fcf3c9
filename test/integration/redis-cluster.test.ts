import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createCluster } from 'redis';
import { waitUntil } from '../../src/lifecycle/wait.js';
import { isPortOpen } from '../../src/local/port-probe.js';
import { projectRoot } from '../../src/local/project-root.js';
import {
  RedisClusterError,
  freeClusterPorts,
  startRedisCluster,
} from '../../src/local/redis-cluster.js';
import { startThrowawayCluster, type ThrowawayCluster } from '../helpers/servers.js';
import { onNode } from '../helpers/cluster-node.js';

/** This node's line of CLUSTER NODES: its id, flags and master id. */
async function myselfLine(port: number): Promise<{ id: string; flags: string[]; master: string }> {
  const text = await onNode(port, (c) => c.sendCommand<string>(['CLUSTER', 'NODES']));
  const line = text.split('\n').find((l) => l.split(' ')[2]?.includes('myself')) ?? '';
  const [id = '', , flags = '', master = ''] = line.split(' ');
  return { id, flags: flags.split(','), master };
}

/** Ports of the nodes CLUSTER NODES lists as replicas of `masterId`. */
async function replicasOf(port: number, masterId: string): Promise<number[]> {
  const text = await onNode(port, (c) => c.sendCommand<string>(['CLUSTER', 'NODES']));
  return text
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[3] === masterId && f[2]?.includes('slave'))
    .map((f) => Number(f[1]?.split('@')[0]?.split(':')[1]));
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

describe('local Redis Cluster', function () {
  this.timeout(120000);

  describe('a throwaway cluster', () => {
    let cluster: ThrowawayCluster | undefined;
    const running = () => {
      if (!cluster) throw new Error('cluster not started');
      return cluster;
    };
    before(async () => {
      cluster = await startThrowawayCluster();
    });
    after(async () => {
      await cluster?.dispose();
    });

    it('comes up with 3 masters, each with a replica, and keyevents on every node', async () => {
      const c = running();
      assert.equal(c.nodes.length, 6);
      assert.equal(c.seeds, c.nodes.map((n) => `127.0.0.1:${n.port}`).join(','));
      const masters = await c.masters();
      assert.equal(masters.length, 3);
      for (const m of masters) {
        const { id } = await myselfLine(m.port);
        assert.equal((await replicasOf(m.port, id)).length, 1, `master ${m.port} has a replica`);
      }
      for (const n of c.nodes) {
        const cfg = await onNode(n.port, (client) => client.configGet('notify-keyspace-events'));
        assert.match(cfg['notify-keyspace-events'] ?? '', /E/, `node ${n.port}`);
        assert.match(cfg['notify-keyspace-events'] ?? '', /x/, `node ${n.port}`);
      }
    });

    it('serves SET/GET through node-redis createCluster on all three masters', async () => {
      const c = running();
      const client = createCluster({ rootNodes: [{ url: `redis://${c.seeds.split(',')[0]}` }] });
      client.on('error', () => {});
      await client.connect();
      try {
        for (let i = 0; i < 30; i++) await client.set(`rc:set:${i}`, `v${i}`);
        for (let i = 0; i < 30; i++) assert.equal(await client.get(`rc:set:${i}`), `v${i}`);
        const perMaster = await Promise.all(
          (await c.masters()).map((m) => onNode(m.port, (node) => node.dbSize())),
        );
        assert.equal(perMaster.length, 3);
        perMaster.forEach((keys) => assert.ok(keys > 0, `every master holds keys: ${perMaster}`));
      } finally {
        client.destroy();
      }
    });

    it('promotes the replica of a killed master, and takes the old master back as a replica', async () => {
      const c = running();
      const [victim] = await c.masters();
      assert.ok(victim);
      const victimId = (await myselfLine(victim.port)).id;
      const [heir] = await replicasOf(victim.port, victimId);
      assert.ok(heir);
      // A key of the victim's shard: the node answers it instead of redirecting (MOVED).
      let key = '';
      for (let i = 0; !key; i++) {
        const k = `rc:fo:${i}`;
        if (
          await onNode(victim.port, (n) =>
            n.get(k).then(
              () => true,
              () => false,
            ),
          )
        )
          key = k;
      }
      const client = createCluster({
        rootNodes: [{ url: `redis://127.0.0.1:${heir}` }],
        defaults: { socket: { connectTimeout: 500, reconnectStrategy: 100 } },
      });
      client.on('error', () => {});
      await client.connect();
      try {
        await client.set(key, 'before');
        await c.killNode(victim.port);
        assert.equal(c.pid(victim.port), undefined);

        await waitUntil(
          `replica ${heir} promoted`,
          async () => (await c.masters()).some((m) => m.port === heir),
          20000,
          100,
        );
        await waitUntil(
          'a write to the failed-over shard',
          () =>
            client.set(key, 'after').then(
              () => true,
              () => false,
            ),
          20000,
          100,
        );
        assert.equal(await client.get(key), 'after');
        assert.equal(await onNode(heir, (n) => n.get(key)), 'after');

        await c.startNode(victim.port);
        const heirId = (await myselfLine(heir)).id;
        await waitUntil(
          `old master ${victim.port} back as a replica of ${heir}`,
          async () => {
            const me = await myselfLine(victim.port);
            return me.flags.includes('slave') && me.master === heirId;
          },
          20000,
          100,
        );
        await c.waitHealthy(20000);
        assert.equal((await c.masters()).length, 3);
      } finally {
        client.destroy();
      }
    });

    it('dispose leaves no redis-server process of the cluster', async () => {
      const c = running();
      const pids = c.nodes.map((n) => c.pid(n.port));
      assert.ok(pids.every((p) => typeof p === 'number'));
      await c.dispose();
      cluster = undefined;
      for (const pid of pids) assert.ok(processGone(pid!), `pid ${pid} is gone`);
      for (const n of c.nodes) assert.equal(await isPortOpen('127.0.0.1', n.port), false);
    });
  });

  describe('a failed start', () => {
    const dirs: string[] = [];
    const tmp = () => {
      const d = mkdtempSync(path.join(os.tmpdir(), 'chat-cluster-fail-'));
      dirs.push(d);
      return d;
    };
    after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

    it('names the node that could not start and stops the others', async () => {
      const ports = await freeClusterPorts(6);
      const dir = tmp();
      const bad = ports[4]!;
      mkdirSync(path.join(dir, String(bad)));
      writeFileSync(path.join(dir, String(bad), 'nodes.conf'), 'not a cluster config\n');
      await assert.rejects(
        startRedisCluster({ ports, dir, persistence: false }),
        (err: unknown) =>
          err instanceof RedisClusterError &&
          err.code === 'NODE_FAILED' &&
          err.port === bad &&
          err.message.includes(`127.0.0.1:${bad}`),
      );
      for (const p of ports) assert.equal(await isPortOpen('127.0.0.1', p), false, `port ${p}`);
    });

    it('says which port is taken, and starts nothing', async () => {
      const ports = await freeClusterPorts(6);
      const blocker = net.createServer((socket) => socket.resume());
      await new Promise<void>((r) => blocker.listen(ports[2], '127.0.0.1', r));
      try {
        await assert.rejects(
          startRedisCluster({ ports, dir: tmp(), persistence: false }),
          (err: unknown) =>
            err instanceof RedisClusterError && err.code === 'PORT_IN_USE' && err.port === ports[2],
        );
      } finally {
        await new Promise((r) => blocker.close(r));
      }
      for (const p of ports) assert.equal(await isPortOpen('127.0.0.1', p), false, `port ${p}`);
    });
  });

  describe('npm run cluster', () => {
    let base = 0;
    let dir = '';
    const cli = (...args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/bin/cluster.ts', ...args], {
          cwd: projectRoot(),
          env: { ...process.env, CLUSTER_PORT: String(base), CLUSTER_DIR: dir },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const ports = () => Array.from({ length: 6 }, (_, i) => base + i);

    before(async () => {
      [base = 0] = await freeClusterPorts(6, true);
      dir = mkdtempSync(path.join(os.tmpdir(), 'chat-cluster-cli-'));
    });
    after(async () => {
      await cli('stop');
      rmSync(dir, { recursive: true, force: true });
    });

    it('starts detached nodes, reports them, stops them, and restarts from their nodes.conf', async () => {
      const seeds = ports()
        .map((p) => `127.0.0.1:${p}`)
        .join(',');
      const started = await cli('start');
      assert.equal(started.code, 0, started.stderr);
      assert.equal(started.stdout, `REDIS_CLUSTER_NODES=${seeds}\n`);
      assert.match(started.stderr, new RegExp(`REDIS_CLUSTER_NODES=${seeds} npm start`));

      const again = await cli('start');
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /already running/);
      assert.equal(again.stdout, started.stdout);

      const status = await cli('status');
      assert.equal(status.code, 0, status.stderr);
      const lines = status.stdout.split('\n').filter((l) => l.startsWith('127.0.0.1:'));
      assert.equal(lines.length, 6);
      assert.equal(lines.filter((l) => /\bmaster\b.*\bup\b.*\bok\b/.test(l)).length, 3);
      assert.equal(lines.filter((l) => /\breplica\b.*\bup\b.*\bok\b/.test(l)).length, 3);

      const stopped = await cli('stop');
      assert.equal(stopped.code, 0, stopped.stderr);
      for (const p of ports()) assert.equal(await isPortOpen('127.0.0.1', p), false, `port ${p}`);
      const down = await cli('status');
      assert.equal(down.code, 1);
      assert.match(down.stderr, /not running/);

      const restarted = await cli('start');
      assert.equal(restarted.code, 0, restarted.stderr);
      assert.equal(restarted.stdout, started.stdout);
      assert.equal((await cli('status')).code, 0);
      assert.equal((await cli('stop')).code, 0);
      assert.equal((await cli('stop')).code, 0, 'stop with nothing running');
    });

    it('refuses ports taken by something else in one line, exit 1', async () => {
      const blocker = net.createServer((socket) => socket.resume());
      await new Promise<void>((r) => blocker.listen(base + 1, '127.0.0.1', r));
      try {
        const res = await cli('start');
        assert.equal(res.code, 1);
        assert.match(
          res.stderr.trim().split('\n').at(-1) ?? '',
          new RegExp(`port ${base + 1}.*in use`),
        );
        assert.equal(res.stdout, '');
      } finally {
        await new Promise((r) => blocker.close(r));
      }
    });

    it('exits 2 with the usage on an unknown or missing subcommand', async () => {
      for (const args of [['restart'], []]) {
        const res = await cli(...args);
        assert.equal(res.code, 2);
        assert.match(res.stderr, /usage: npm run cluster -- start\|stop\|status/);
      }
    });
  });
});
