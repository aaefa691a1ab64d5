"""What the stages make from: stories, captions, pictures and the offline voices."""
