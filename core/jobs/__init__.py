"""Jobs: one submit API for every front end, SAQ on Redis underneath, events per job."""
