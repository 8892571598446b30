"""The action-conditioned predictor of V-JEPA 2-AC: a block-causal transformer over frozen-encoder tokens."""

from jepa_sim.predictor.model import ACPredictor, KVCache, Observed, PredictorConfig, block_causal_mask

__all__ = ["ACPredictor", "KVCache", "Observed", "PredictorConfig", "block_causal_mask"]
