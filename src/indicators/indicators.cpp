// Component library indicators: sources are added alongside this file.
