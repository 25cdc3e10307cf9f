"""Batch runs: a config, resumable shards, a results store (``xaibench evaluate``)."""
from xaibench.runner.config import ConfigError, RunConfig, from_mapping, load_config
from xaibench.runner.engine import (BASELINE, RunInterrupted, Shard, UntrainedModelWarning,
                                    plan_shards, run)
from xaibench.runner.store import RunFolderError, RunStore, StoreCorruptError

__all__ = ["ConfigError", "RunConfig", "from_mapping", "load_config", "BASELINE",
           "RunInterrupted", "Shard", "UntrainedModelWarning", "plan_shards", "run",
           "RunFolderError", "RunStore", "StoreCorruptError"]
