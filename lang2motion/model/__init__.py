"""The Lang2Motion model: config, encoder, decoders, auto-encoder, losses, checkpoints."""

from lang2motion.config import ModelConfig
from lang2motion.model.autoencoder import Lang2Motion, unit_latent
from lang2motion.model.checkpoint import load_model, save_model
from lang2motion.model.losses import compute_losses

__all__ = ["Lang2Motion", "ModelConfig", "compute_losses", "load_model", "save_model",
           "unit_latent"]
