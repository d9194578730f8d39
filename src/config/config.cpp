// Component library config: sources are added alongside this file.
