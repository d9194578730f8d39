// Component library engine: sources are added alongside this file.
