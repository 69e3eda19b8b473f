"""Phase 2: RL with verifiable rewards in verl (data preparation, recipe, launcher)."""
