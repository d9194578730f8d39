// Component library cli: sources are added alongside this file.
