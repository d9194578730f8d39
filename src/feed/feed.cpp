// Component library feed: sources are added alongside this file.
