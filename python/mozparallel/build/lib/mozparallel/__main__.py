from mozparallel.cli import console_main

console_main()
