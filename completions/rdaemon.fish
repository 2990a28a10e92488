# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_rdaemon_global_optspecs
    string join \n dir= q/quiet v/verbose h/help V/version
end

function __fish_rdaemon_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_rdaemon_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_rdaemon_using_subcommand
    set -l cmd (__fish_rdaemon_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c rdaemon -n "__fish_rdaemon_needs_command" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_needs_command" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -s h -l help -d 'Print help'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "start" -d 'Detach PROGRAM as a daemon, write its pidfile and record, and report once it really runs; `start NAME` starts a stopped daemon again from its spec'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "stop" -d 'Stop a daemon: signal its process group, wait exactly until it is gone, KILL if it must'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "status" -d 'Tell whether a daemon runs (LSB exit codes: 0 running, 1 dead, 3 stopped, 4 unknown)'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "list" -d 'List every daemon in the rdaemon directory'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "restart" -d 'Stop a daemon if it runs, then start it again with its recorded command line'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "resurrect" -d 'Start every daemon whose spec wants it running and that does not run (after a reboot)'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "logs" -d 'Print the last lines of a daemon\'s log; -f follows it (across rotation) until interrupted'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "forget" -d 'Remove stopped daemons\' records (their logs stay); refuses a daemon that runs'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "signal" -d 'Send a signal to daemons\' main programs (in respawn mode: the program, not its monitor)'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "reload" -d 'Tell daemons to reload their configuration (their reload signal: HUP)'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "wait" -d 'Wait until daemons have exited (on pidfds, no polling), saying how each ended'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "up" -d 'Start the daemons of a file (rdaemon.toml or Procfile), each once what it comes after is ready, independent ones at once; unchanged running ones are left alone'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "down" -d 'Stop the daemons of a file, dependents first, independent ones at once; their specs stay'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "export" -d 'Print a service definition for another supervisor (systemd, Nomad), built from daemons\' records or from an up file'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c rdaemon -n "__fish_rdaemon_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l name -d 'The daemon\'s name [default: the pidfile\'s stem, else the program\'s basename]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l pidfile -d 'Where to write the pidfile [default: DIR/NAME.pid; as root without --dir or RDAEMON_DIR: /run/rdaemon/NAME.pid]; with --forking, the pidfile the program writes, which rdaemon only reads' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l log -d 'Append stdout and stderr to FILE [default: DIR/NAME.log; as root without --dir or RDAEMON_DIR: /var/log/rdaemon/NAME.log]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l stdout -d 'Append stdout to FILE (overrides --log; /dev/null discards)' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l stderr -d 'Append stderr to FILE (overrides --log; /dev/null discards)' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l chdir -d 'Working directory of the daemon [default: /]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l umask -d 'File mode creation mask, in octal; the log files rdaemon creates get 0644 narrowed by it [default: 022]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l env -d 'Set an environment variable (repeatable; KEY is letters, digits and _); the rest of the environment is inherited' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l env-file -d 'Read KEY=VALUE lines from FILE into the environment (repeatable; blank lines and # comments skipped, optional `export `, one level of quotes stripped); later files win, --env wins over files; read again at every start, restart and respawn' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l limit -d 'Set a resource limit before exec (repeatable): nofile, nproc, core, memlock, as, fsize, cpu, stack, data; a number, a size for core/memlock/as/fsize/stack/data (64M), or unlimited; one value sets both the soft and the hard limit' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l nice -d 'Scheduling priority of the daemon, from -20 (highest) to 19 (lowest)' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l oom-score-adj -d 'OOM score adjustment of the daemon, from -1000 (never killed) to 1000 (killed first)' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l stop-signal -d 'The signal that stop, restart and down send first, unless told otherwise [default: TERM]' -r -f -a "HUP\t''
INT\t''
QUIT\t''
ILL\t''
TRAP\t''
ABRT\t''
BUS\t''
FPE\t''
KILL\t''
USR1\t''
SEGV\t''
USR2\t''
PIPE\t''
ALRM\t''
TERM\t''
STKFLT\t''
CHLD\t''
CONT\t''
STOP\t''
TSTP\t''
TTIN\t''
TTOU\t''
URG\t''
XCPU\t''
XFSZ\t''
VTALRM\t''
PROF\t''
WINCH\t''
IO\t''
PWR\t''
SYS\t''"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l stop-timeout -d 'How long stop, restart and down wait after the stop signal before SIGKILL, unless told otherwise [default: 10s]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l reload-signal -d 'The signal that reload sends [default: HUP]' -r -f -a "HUP\t''
INT\t''
QUIT\t''
ILL\t''
TRAP\t''
ABRT\t''
BUS\t''
FPE\t''
KILL\t''
USR1\t''
SEGV\t''
USR2\t''
PIPE\t''
ALRM\t''
TERM\t''
STKFLT\t''
CHLD\t''
CONT\t''
STOP\t''
TSTP\t''
TTIN\t''
TTOU\t''
URG\t''
XCPU\t''
XFSZ\t''
VTALRM\t''
PROF\t''
WINCH\t''
IO\t''
PWR\t''
SYS\t''"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l user -d 'Run as USER (name or uid), with GROUP or the user\'s primary group and the user\'s supplementary groups; only as root. The pidfile and logs are opened first, as root' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l group -d 'Run with GROUP (name or gid) as the primary group; only as root' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l ready -d 'What "started" means: exec, alive:DURATION, notify, tcp:[HOST:]PORT, file:PATH, http:URL, log:REGEX or cmd:COMMAND [default: exec]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l ready-timeout -d 'How long to wait for readiness before stopping the program and failing [default: 30s]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l restart-delay -d 'Delay before the first restart; doubles on each quick failure (up to 60s), back to the start once the program has run 60s [default: 1s]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l max-restarts -d 'Give up after N restarts within --restart-window (state "failed"); 0: never give up [default: 5]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l restart-window -d 'The window of --max-restarts [default: 60s]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l log-max-size -d 'Rotate each log file at SIZE (512K, 10M, 1G): the monitor reads the program\'s output through pipes and renames FILE to FILE.1 between lines; no file grows past SIZE (a line longer than SIZE is cut)' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l log-keep -d 'How many rotated files to keep (FILE.1 ... FILE.N), at most 1000; 0 keeps none [default: 5]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l restart -d 'When to restart the program: always (after any exit), or on-failure (only after a non-zero exit status or a signal; a clean exit ends the daemon, state "stopped") [default: always]' -r -f -a "always\t'After every exit (systemd\'s `Restart=always`)'
on-failure\t'Only after a non-zero exit status or death by a signal (`Restart=on-failure`): a clean exit (status 0) ends the monitor, and the daemon is `stopped`'"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l health -d 'Check the program\'s health once it is ready: tcp:[HOST:]PORT, http:URL, cmd:COMMAND or file:PATH; after --health-retries failures in a row the program is stopped and restarted (last exit "unhealthy")' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l health-interval -d 'How often the health check runs [default: 10s]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l health-retries -d 'Failures in a row of the health check before a restart [default: 3]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l watchdog -d 'The program must send WATCHDOG=1 (sd_notify) at least this often, or it is stopped and restarted (last exit "watchdog"); sets WATCHDOG_USEC and WATCHDOG_PID; needs --ready notify' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l on-exit -d 'Run `/bin/sh -c COMMAND` after each exit of the program (as its user, output to its log, killed after 60s), with RDAEMON_NAME, RDAEMON_EXIT, RDAEMON_EXIT_CODE or RDAEMON_EXIT_SIGNAL, RDAEMON_RESTARTS and RDAEMON_STATE (restarting, failed, stopped)' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l cgroup -d 'Run the daemon in its own cgroup rdaemon/NAME (NAME@HASH with --dir or RDAEMON_DIR; cgroup v2), so that stop reaches every process it spawned: auto where rdaemon can (root, a writable cgroup2 mount, not in a systemd tree that was not delegated), on (fail with the reason where it cannot), off [default: auto]' -r -f -a "auto\t'Where rdaemon can create one'
on\t'Always: fail where impossible'
off\t'Never'"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l memory-max -d 'Limit the daemon\'s memory to SIZE (512K, 10M, 1G): the cgroup\'s memory.max; needs the memory controller' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l tasks-max -d 'Limit the daemon to N processes and threads: the cgroup\'s pids.max; needs the pids controller' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l forking -d 'The program daemonizes itself (nginx, redis-server --daemonize yes): wait for it to exit, then adopt the process it left, named by --pidfile (the pidfile the program writes; rdaemon only reads it) or, without --pidfile, the only process left'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l respawn -d 'Supervise: a small rdaemon monitor runs PROGRAM as its child and restarts it whenever it exits; the pidfile holds the monitor\'s pid'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l log-timestamps -d 'Prefix each line the program writes with its time (RFC 3339, milliseconds): the monitor reads the program\'s output through pipes'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -l foreground -d 'Do not detach: write the pidfile and record, then exec PROGRAM in place of rdaemon (same pid, same stdio unless --log/--stdout/--stderr), for systemd units, containers, debugging'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -l name -d 'The daemon\'s name, as an option' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -l pidfile -d 'The daemon\'s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon\'s own)' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -l file -d 'The daemons of an up file (rdaemon.toml or Procfile), by name' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -l signal -d 'First signal (TERM, SIGTERM, 15, any case; the daemon\'s --stop-signal unless given) [default: TERM]' -r -f -a "HUP\t''
INT\t''
QUIT\t''
ILL\t''
TRAP\t''
ABRT\t''
BUS\t''
FPE\t''
KILL\t''
USR1\t''
SEGV\t''
USR2\t''
PIPE\t''
ALRM\t''
TERM\t''
STKFLT\t''
CHLD\t''
CONT\t''
STOP\t''
TSTP\t''
TTIN\t''
TTOU\t''
URG\t''
XCPU\t''
XFSZ\t''
VTALRM\t''
PROF\t''
WINCH\t''
IO\t''
PWR\t''
SYS\t''"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -l timeout -d 'How long to wait after the first signal before SIGKILL (the daemon\'s --stop-timeout unless given) [default: 10s]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -l retry -d 'start-stop-daemon\'s schedule instead of --timeout/--no-kill: TERM/30/KILL/5, N, .../forever; a timeout may also be a duration (INT/500ms/KILL/1, a bare 500ms). A schedule names its own signals: not with --signal, which only a bare timeout takes' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -l all -d 'Every daemon rdaemon knows'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -l no-kill -d 'Never escalate to SIGKILL'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -l main-only -d 'Send the first signal only to the main process; the rest of the daemon (its group, its session, its cgroup) is waited for and gets only the SIGKILL at the timeout'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -s h -l help -d 'Print help'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand status" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand status" -l name -d 'The daemon\'s name, as an option' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand status" -l pidfile -d 'The daemon\'s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon\'s own)' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand status" -l file -d 'The daemons of an up file (rdaemon.toml or Procfile), by name' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand status" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand status" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand status" -l all -d 'Every daemon rdaemon knows'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand status" -l json -d 'Print one JSON document instead of text'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand status" -s h -l help -d 'Print help'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand status" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand list" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand list" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand list" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand list" -l json -d 'Print a JSON array instead of a table'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand list" -l names -d 'Print only the names, one per line (fast: no process is looked at)'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand list" -s h -l help -d 'Print help'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand list" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l name -d 'The daemon\'s name, as an option' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l pidfile -d 'The daemon\'s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon\'s own)' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l file -d 'The daemons of an up file (rdaemon.toml or Procfile), by name' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l log -d 'Append stdout and stderr to FILE [default: DIR/NAME.log; as root without --dir or RDAEMON_DIR: /var/log/rdaemon/NAME.log]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l stdout -d 'Append stdout to FILE (overrides --log; /dev/null discards)' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l stderr -d 'Append stderr to FILE (overrides --log; /dev/null discards)' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l chdir -d 'Working directory of the daemon [default: /]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l umask -d 'File mode creation mask, in octal; the log files rdaemon creates get 0644 narrowed by it [default: 022]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l env -d 'Set an environment variable (repeatable; KEY is letters, digits and _); the rest of the environment is inherited' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l env-file -d 'Read KEY=VALUE lines from FILE into the environment (repeatable; blank lines and # comments skipped, optional `export `, one level of quotes stripped); later files win, --env wins over files; read again at every start, restart and respawn' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l limit -d 'Set a resource limit before exec (repeatable): nofile, nproc, core, memlock, as, fsize, cpu, stack, data; a number, a size for core/memlock/as/fsize/stack/data (64M), or unlimited; one value sets both the soft and the hard limit' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l nice -d 'Scheduling priority of the daemon, from -20 (highest) to 19 (lowest)' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l oom-score-adj -d 'OOM score adjustment of the daemon, from -1000 (never killed) to 1000 (killed first)' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l stop-signal -d 'The signal that stop, restart and down send first, unless told otherwise [default: TERM]' -r -f -a "HUP\t''
INT\t''
QUIT\t''
ILL\t''
TRAP\t''
ABRT\t''
BUS\t''
FPE\t''
KILL\t''
USR1\t''
SEGV\t''
USR2\t''
PIPE\t''
ALRM\t''
TERM\t''
STKFLT\t''
CHLD\t''
CONT\t''
STOP\t''
TSTP\t''
TTIN\t''
TTOU\t''
URG\t''
XCPU\t''
XFSZ\t''
VTALRM\t''
PROF\t''
WINCH\t''
IO\t''
PWR\t''
SYS\t''"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l stop-timeout -d 'How long stop, restart and down wait after the stop signal before SIGKILL, unless told otherwise [default: 10s]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l reload-signal -d 'The signal that reload sends [default: HUP]' -r -f -a "HUP\t''
INT\t''
QUIT\t''
ILL\t''
TRAP\t''
ABRT\t''
BUS\t''
FPE\t''
KILL\t''
USR1\t''
SEGV\t''
USR2\t''
PIPE\t''
ALRM\t''
TERM\t''
STKFLT\t''
CHLD\t''
CONT\t''
STOP\t''
TSTP\t''
TTIN\t''
TTOU\t''
URG\t''
XCPU\t''
XFSZ\t''
VTALRM\t''
PROF\t''
WINCH\t''
IO\t''
PWR\t''
SYS\t''"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l user -d 'Run as USER (name or uid), with GROUP or the user\'s primary group and the user\'s supplementary groups; only as root. The pidfile and logs are opened first, as root' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l group -d 'Run with GROUP (name or gid) as the primary group; only as root' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l ready -d 'What "started" means: exec, alive:DURATION, notify, tcp:[HOST:]PORT, file:PATH, http:URL, log:REGEX or cmd:COMMAND [default: exec]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l ready-timeout -d 'How long to wait for readiness before stopping the program and failing [default: 30s]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l restart-delay -d 'Delay before the first restart; doubles on each quick failure (up to 60s), back to the start once the program has run 60s [default: 1s]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l max-restarts -d 'Give up after N restarts within --restart-window (state "failed"); 0: never give up [default: 5]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l restart-window -d 'The window of --max-restarts [default: 60s]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l log-max-size -d 'Rotate each log file at SIZE (512K, 10M, 1G): the monitor reads the program\'s output through pipes and renames FILE to FILE.1 between lines; no file grows past SIZE (a line longer than SIZE is cut)' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l log-keep -d 'How many rotated files to keep (FILE.1 ... FILE.N), at most 1000; 0 keeps none [default: 5]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l restart -d 'When to restart the program: always (after any exit), or on-failure (only after a non-zero exit status or a signal; a clean exit ends the daemon, state "stopped") [default: always]' -r -f -a "always\t'After every exit (systemd\'s `Restart=always`)'
on-failure\t'Only after a non-zero exit status or death by a signal (`Restart=on-failure`): a clean exit (status 0) ends the monitor, and the daemon is `stopped`'"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l health -d 'Check the program\'s health once it is ready: tcp:[HOST:]PORT, http:URL, cmd:COMMAND or file:PATH; after --health-retries failures in a row the program is stopped and restarted (last exit "unhealthy")' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l health-interval -d 'How often the health check runs [default: 10s]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l health-retries -d 'Failures in a row of the health check before a restart [default: 3]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l watchdog -d 'The program must send WATCHDOG=1 (sd_notify) at least this often, or it is stopped and restarted (last exit "watchdog"); sets WATCHDOG_USEC and WATCHDOG_PID; needs --ready notify' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l on-exit -d 'Run `/bin/sh -c COMMAND` after each exit of the program (as its user, output to its log, killed after 60s), with RDAEMON_NAME, RDAEMON_EXIT, RDAEMON_EXIT_CODE or RDAEMON_EXIT_SIGNAL, RDAEMON_RESTARTS and RDAEMON_STATE (restarting, failed, stopped)' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l cgroup -d 'Run the daemon in its own cgroup rdaemon/NAME (NAME@HASH with --dir or RDAEMON_DIR; cgroup v2), so that stop reaches every process it spawned: auto where rdaemon can (root, a writable cgroup2 mount, not in a systemd tree that was not delegated), on (fail with the reason where it cannot), off [default: auto]' -r -f -a "auto\t'Where rdaemon can create one'
on\t'Always: fail where impossible'
off\t'Never'"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l memory-max -d 'Limit the daemon\'s memory to SIZE (512K, 10M, 1G): the cgroup\'s memory.max; needs the memory controller' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l tasks-max -d 'Limit the daemon to N processes and threads: the cgroup\'s pids.max; needs the pids controller' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l signal -d 'First signal (TERM, SIGTERM, 15, any case; the daemon\'s --stop-signal unless given) [default: TERM]' -r -f -a "HUP\t''
INT\t''
QUIT\t''
ILL\t''
TRAP\t''
ABRT\t''
BUS\t''
FPE\t''
KILL\t''
USR1\t''
SEGV\t''
USR2\t''
PIPE\t''
ALRM\t''
TERM\t''
STKFLT\t''
CHLD\t''
CONT\t''
STOP\t''
TSTP\t''
TTIN\t''
TTOU\t''
URG\t''
XCPU\t''
XFSZ\t''
VTALRM\t''
PROF\t''
WINCH\t''
IO\t''
PWR\t''
SYS\t''"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l timeout -d 'How long to wait after the first signal before SIGKILL (the daemon\'s --stop-timeout unless given) [default: 10s]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l retry -d 'start-stop-daemon\'s schedule instead of --timeout/--no-kill: TERM/30/KILL/5, N, .../forever; a timeout may also be a duration (INT/500ms/KILL/1, a bare 500ms). A schedule names its own signals: not with --signal, which only a bare timeout takes' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l all -d 'Every daemon rdaemon knows'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l forking -d 'The program daemonizes itself (nginx, redis-server --daemonize yes): wait for it to exit, then adopt the process it left, named by --pidfile (the pidfile the program writes; rdaemon only reads it) or, without --pidfile, the only process left'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l respawn -d 'Supervise: a small rdaemon monitor runs PROGRAM as its child and restarts it whenever it exits; the pidfile holds the monitor\'s pid'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l log-timestamps -d 'Prefix each line the program writes with its time (RFC 3339, milliseconds): the monitor reads the program\'s output through pipes'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l no-kill -d 'Never escalate to SIGKILL'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand resurrect" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand resurrect" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand resurrect" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand resurrect" -s h -l help -d 'Print help'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand resurrect" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand logs" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand logs" -l name -d 'The daemon\'s name, as an option' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand logs" -l pidfile -d 'The daemon\'s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon\'s own)' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand logs" -l file -d 'The daemons of an up file (rdaemon.toml or Procfile), by name' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand logs" -s n -l lines -d 'How many lines to print from the end of each log' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand logs" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand logs" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand logs" -l all -d 'Every daemon rdaemon knows'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand logs" -s f -l follow -d 'Keep printing what is appended, across rotation and truncation, until interrupted'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand logs" -s h -l help -d 'Print help'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand logs" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand forget" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand forget" -l name -d 'The daemon\'s name, as an option' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand forget" -l pidfile -d 'The daemon\'s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon\'s own)' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand forget" -l file -d 'The daemons of an up file (rdaemon.toml or Procfile), by name' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand forget" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand forget" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand forget" -l all -d 'Every daemon rdaemon knows'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand forget" -s h -l help -d 'Print help'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand forget" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand signal" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand signal" -l name -d 'The daemon\'s name, as an option' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand signal" -l pidfile -d 'The daemon\'s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon\'s own)' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand signal" -l file -d 'The daemons of an up file (rdaemon.toml or Procfile), by name' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand signal" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand signal" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand signal" -l all -d 'Every daemon rdaemon knows'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand signal" -l group -d 'Send it to every process of the daemon, not only the main program: its process group, then the rest of its cgroup (or session)'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand signal" -s h -l help -d 'Print help'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand signal" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand reload" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand reload" -l name -d 'The daemon\'s name, as an option' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand reload" -l pidfile -d 'The daemon\'s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon\'s own)' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand reload" -l file -d 'The daemons of an up file (rdaemon.toml or Procfile), by name' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand reload" -l timeout -d 'With --ready notify in respawn mode: how long to wait for RELOADING=1 then READY=1 (exit 1 after) [default: the daemon\'s --ready-timeout]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand reload" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand reload" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand reload" -l all -d 'Every daemon rdaemon knows'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand reload" -s h -l help -d 'Print help'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand reload" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand wait" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand wait" -l name -d 'The daemon\'s name, as an option' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand wait" -l pidfile -d 'The daemon\'s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon\'s own)' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand wait" -l file -d 'The daemons of an up file (rdaemon.toml or Procfile), by name' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand wait" -l timeout -d 'Give up after DURATION (exit 1, naming the daemons still running) [default: wait forever]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand wait" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand wait" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand wait" -l all -d 'Every daemon rdaemon knows'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand wait" -s h -l help -d 'Print help'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand wait" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand up" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand up" -s f -l file -d 'The file declaring the daemons: TOML, or a Procfile when its name ends in Procfile or .procfile, or begins with Procfile. (Procfile.dev) [default: ./rdaemon.toml, else ./Procfile]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand up" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand up" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand up" -s h -l help -d 'Print help'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand up" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand down" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand down" -s f -l file -d 'The file declaring the daemons: TOML, or a Procfile when its name ends in Procfile or .procfile, or begins with Procfile. (Procfile.dev) [default: ./rdaemon.toml, else ./Procfile]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand down" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand down" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand down" -s h -l help -d 'Print help'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand down" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand export" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand export" -l name -d 'The daemon\'s name, as an option' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand export" -l pidfile -d 'The daemon\'s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon\'s own)' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand export" -s f -l file -d 'Every daemon of an up file (rdaemon.toml or Procfile), from the file: one unit each with After=/Requires= from after, and a target grouping them (systemd); one task each (nomad)' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand export" -l out -d 'systemd -f: write NAME.service and TARGET.target into DIR instead of printing them' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand export" -l target -d 'The name of the systemd target (-f) or of the Nomad job [default: the file\'s directory name; nomad without -f: rdaemon]' -r
complete -c rdaemon -n "__fish_rdaemon_using_subcommand export" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand export" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand export" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand completions" -l dir -d 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]' -r -F
complete -c rdaemon -n "__fish_rdaemon_using_subcommand completions" -s q -l quiet -d 'Print less: only errors'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand completions" -s v -l verbose -d 'Print more about what rdaemon does'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand completions" -s h -l help -d 'Print help'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand completions" -s V -l version -d 'Print version'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "start" -d 'Detach PROGRAM as a daemon, write its pidfile and record, and report once it really runs; `start NAME` starts a stopped daemon again from its spec'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "stop" -d 'Stop a daemon: signal its process group, wait exactly until it is gone, KILL if it must'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "status" -d 'Tell whether a daemon runs (LSB exit codes: 0 running, 1 dead, 3 stopped, 4 unknown)'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "list" -d 'List every daemon in the rdaemon directory'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "restart" -d 'Stop a daemon if it runs, then start it again with its recorded command line'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "resurrect" -d 'Start every daemon whose spec wants it running and that does not run (after a reboot)'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "logs" -d 'Print the last lines of a daemon\'s log; -f follows it (across rotation) until interrupted'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "forget" -d 'Remove stopped daemons\' records (their logs stay); refuses a daemon that runs'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "signal" -d 'Send a signal to daemons\' main programs (in respawn mode: the program, not its monitor)'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "reload" -d 'Tell daemons to reload their configuration (their reload signal: HUP)'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "wait" -d 'Wait until daemons have exited (on pidfds, no polling), saying how each ended'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "up" -d 'Start the daemons of a file (rdaemon.toml or Procfile), each once what it comes after is ready, independent ones at once; unchanged running ones are left alone'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "down" -d 'Stop the daemons of a file, dependents first, independent ones at once; their specs stay'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "export" -d 'Print a service definition for another supervisor (systemd, Nomad), built from daemons\' records or from an up file'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c rdaemon -n "__fish_rdaemon_using_subcommand help; and not __fish_seen_subcommand_from start stop status list restart resurrect logs forget signal reload wait up down export completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

# Added by rdaemon: daemon names from `rdaemon list --names` in the rdaemon directory
# (--dir on the command line, else RDAEMON_DIR, else the default).
function __fish_rdaemon_names
    set -l tokens (commandline -opc)
    set -l dir
    for i in (seq 2 (count $tokens))
        switch $tokens[$i]
            case --dir
                set dir --dir $tokens[(math $i + 1)]
            case '--dir=*'
                set dir --dir (string replace -- --dir= '' $tokens[$i])
        end
    end
    $tokens[1] $dir list --names 2>/dev/null
end
# How many words typed are not options nor their values, the subcommand included.
function __fish_rdaemon_positionals
    set -l n 0
    set -l value 0
    for t in (commandline -opc)[2..-1]
        if test $value -eq 1
            set value 0
            continue
        end
        switch $t
            case '--*=*'
            case --cgroup --chdir --dir --env --env-file --file --group --health --health-interval --health-retries --limit --lines --log --log-keep --log-max-size --max-restarts --memory-max --name --nice --on-exit --oom-score-adj --out --pidfile --ready --ready-timeout --reload-signal --restart --restart-delay --restart-window --retry --signal --stderr --stdout --stop-signal --stop-timeout --target --tasks-max --timeout --umask --user --watchdog -f -n
                set value 1
            case '-*'
            case '*'
                set n (math $n + 1)
        end
    end
    echo $n
end
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -f -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand status" -f -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -f -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand logs" -f -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand forget" -f -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand signal; and test (__fish_rdaemon_positionals) -gt 1" -f -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand reload" -f -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand wait" -f -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand up" -f -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand down" -f -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand export; and __fish_seen_subcommand_from systemd nomad" -f -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand stop" -l name -x -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand status" -l name -x -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand restart" -l name -x -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand logs" -l name -x -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand forget" -l name -x -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand signal" -l name -x -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand reload" -l name -x -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand wait" -l name -x -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand export" -l name -x -a "(__fish_rdaemon_names)"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand signal; and test (__fish_rdaemon_positionals) -eq 1" -f -a "HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS"
complete -c rdaemon -n "__fish_rdaemon_using_subcommand start; and test (count (commandline -opc)) -eq 2" -a "(__fish_rdaemon_names)"
