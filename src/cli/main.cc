// Placeholder entry point; replaced by the subcommand dispatcher.
int main() { return 0; }
