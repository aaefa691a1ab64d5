"""The YouTube uploader: OAuth tokens per channel, resumable uploads, the quota ledger."""
