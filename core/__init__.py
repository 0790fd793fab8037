"""narcis core: the engine every front end shares (diffusion, prompts, config)."""
