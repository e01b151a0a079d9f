"""The test fixtures start what they promise: a real redis-server that can be SIGKILLed and
restarted with its append-only data, and a three-master Redis Cluster."""

from __future__ import annotations

from pathlib import Path

import redis
from redis.cluster import RedisCluster as ClusterClient

from tests.fixtures.redis_cluster import RedisCluster
from tests.fixtures.redis_server import RedisServer


def test_redis_server_keeps_appendonly_data_across_a_kill(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, appendonly=True).start()
    try:
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        client.execute_command("BGREWRITEAOF")
        client.close()
        server.stop()
        server.start()
        client = redis.Redis.from_url(server.url)
        assert client.get("k") == b"v"
        client.close()
        server.kill()
        assert not server.ping()
    finally:
        server.stop()


def test_cluster_spreads_slots_over_three_masters(tmp_path: Path) -> None:
    cluster = RedisCluster(tmp_path).start()
    try:
        client = ClusterClient.from_url(cluster.url)
        assert len(client.get_primaries()) == 3
        for i in range(30):
            client.set(f"key{i}", i)
        assert {client.get_node_from_key(f"key{i}").port for i in range(30)} == {
            node.port for node in cluster.nodes
        }
        client.close()
    finally:
        cluster.stop()
