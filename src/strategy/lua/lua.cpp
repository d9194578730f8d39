// Lua sandbox component: sources are added alongside this file.
