// Component library exec: sources are added alongside this file.
