"""Stage-1 V-JEPA pretraining on our own sim video: masks, EMA target, loss, trainer and export."""
