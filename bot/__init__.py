"""The operators' Discord bot: thin cogs over plain modules. It never imports torch: models
stay on the workers, reached through the job queue."""
