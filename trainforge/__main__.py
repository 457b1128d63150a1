from trainforge.cli.main import console

console()
