"""What users do with a trained model: one module per verb of the `lang2motion` command."""
