// Component library strategy: sources are added alongside this file.
