
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'rdaemon' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'rdaemon'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'rdaemon' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Detach PROGRAM as a daemon, write its pidfile and record, and report once it really runs; `start NAME` starts a stopped daemon again from its spec')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop a daemon: signal its process group, wait exactly until it is gone, KILL if it must')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Tell whether a daemon runs (LSB exit codes: 0 running, 1 dead, 3 stopped, 4 unknown)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every daemon in the rdaemon directory')
            [CompletionResult]::new('restart', 'restart', [CompletionResultType]::ParameterValue, 'Stop a daemon if it runs, then start it again with its recorded command line')
            [CompletionResult]::new('resurrect', 'resurrect', [CompletionResultType]::ParameterValue, 'Start every daemon whose spec wants it running and that does not run (after a reboot)')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print the last lines of a daemon''s log; -f follows it (across rotation) until interrupted')
            [CompletionResult]::new('forget', 'forget', [CompletionResultType]::ParameterValue, 'Remove stopped daemons'' records (their logs stay); refuses a daemon that runs')
            [CompletionResult]::new('signal', 'signal', [CompletionResultType]::ParameterValue, 'Send a signal to daemons'' main programs (in respawn mode: the program, not its monitor)')
            [CompletionResult]::new('reload', 'reload', [CompletionResultType]::ParameterValue, 'Tell daemons to reload their configuration (their reload signal: HUP)')
            [CompletionResult]::new('wait', 'wait', [CompletionResultType]::ParameterValue, 'Wait until daemons have exited (on pidfds, no polling), saying how each ended')
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Start the daemons of a file (rdaemon.toml or Procfile), each once what it comes after is ready, independent ones at once; unchanged running ones are left alone')
            [CompletionResult]::new('down', 'down', [CompletionResultType]::ParameterValue, 'Stop the daemons of a file, dependents first, independent ones at once; their specs stay')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Print a service definition for another supervisor (systemd, Nomad), built from daemons'' records or from an up file')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (bash, zsh, fish, elvish, powershell)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'rdaemon;start' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The daemon''s name [default: the pidfile''s stem, else the program''s basename]')
            [CompletionResult]::new('--pidfile', '--pidfile', [CompletionResultType]::ParameterName, 'Where to write the pidfile [default: DIR/NAME.pid; as root without --dir or RDAEMON_DIR: /run/rdaemon/NAME.pid]; with --forking, the pidfile the program writes, which rdaemon only reads')
            [CompletionResult]::new('--log', '--log', [CompletionResultType]::ParameterName, 'Append stdout and stderr to FILE [default: DIR/NAME.log; as root without --dir or RDAEMON_DIR: /var/log/rdaemon/NAME.log]')
            [CompletionResult]::new('--stdout', '--stdout', [CompletionResultType]::ParameterName, 'Append stdout to FILE (overrides --log; /dev/null discards)')
            [CompletionResult]::new('--stderr', '--stderr', [CompletionResultType]::ParameterName, 'Append stderr to FILE (overrides --log; /dev/null discards)')
            [CompletionResult]::new('--chdir', '--chdir', [CompletionResultType]::ParameterName, 'Working directory of the daemon [default: /]')
            [CompletionResult]::new('--umask', '--umask', [CompletionResultType]::ParameterName, 'File mode creation mask, in octal; the log files rdaemon creates get 0644 narrowed by it [default: 022]')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Set an environment variable (repeatable; KEY is letters, digits and _); the rest of the environment is inherited')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Read KEY=VALUE lines from FILE into the environment (repeatable; blank lines and # comments skipped, optional `export `, one level of quotes stripped); later files win, --env wins over files; read again at every start, restart and respawn')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Set a resource limit before exec (repeatable): nofile, nproc, core, memlock, as, fsize, cpu, stack, data; a number, a size for core/memlock/as/fsize/stack/data (64M), or unlimited; one value sets both the soft and the hard limit')
            [CompletionResult]::new('--nice', '--nice', [CompletionResultType]::ParameterName, 'Scheduling priority of the daemon, from -20 (highest) to 19 (lowest)')
            [CompletionResult]::new('--oom-score-adj', '--oom-score-adj', [CompletionResultType]::ParameterName, 'OOM score adjustment of the daemon, from -1000 (never killed) to 1000 (killed first)')
            [CompletionResult]::new('--stop-signal', '--stop-signal', [CompletionResultType]::ParameterName, 'The signal that stop, restart and down send first, unless told otherwise [default: TERM]')
            [CompletionResult]::new('--stop-timeout', '--stop-timeout', [CompletionResultType]::ParameterName, 'How long stop, restart and down wait after the stop signal before SIGKILL, unless told otherwise [default: 10s]')
            [CompletionResult]::new('--reload-signal', '--reload-signal', [CompletionResultType]::ParameterName, 'The signal that reload sends [default: HUP]')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Run as USER (name or uid), with GROUP or the user''s primary group and the user''s supplementary groups; only as root. The pidfile and logs are opened first, as root')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'Run with GROUP (name or gid) as the primary group; only as root')
            [CompletionResult]::new('--ready', '--ready', [CompletionResultType]::ParameterName, 'What "started" means: exec, alive:DURATION, notify, tcp:[HOST:]PORT, file:PATH, http:URL, log:REGEX or cmd:COMMAND [default: exec]')
            [CompletionResult]::new('--ready-timeout', '--ready-timeout', [CompletionResultType]::ParameterName, 'How long to wait for readiness before stopping the program and failing [default: 30s]')
            [CompletionResult]::new('--restart-delay', '--restart-delay', [CompletionResultType]::ParameterName, 'Delay before the first restart; doubles on each quick failure (up to 60s), back to the start once the program has run 60s [default: 1s]')
            [CompletionResult]::new('--max-restarts', '--max-restarts', [CompletionResultType]::ParameterName, 'Give up after N restarts within --restart-window (state "failed"); 0: never give up [default: 5]')
            [CompletionResult]::new('--restart-window', '--restart-window', [CompletionResultType]::ParameterName, 'The window of --max-restarts [default: 60s]')
            [CompletionResult]::new('--log-max-size', '--log-max-size', [CompletionResultType]::ParameterName, 'Rotate each log file at SIZE (512K, 10M, 1G): the monitor reads the program''s output through pipes and renames FILE to FILE.1 between lines; no file grows past SIZE (a line longer than SIZE is cut)')
            [CompletionResult]::new('--log-keep', '--log-keep', [CompletionResultType]::ParameterName, 'How many rotated files to keep (FILE.1 ... FILE.N), at most 1000; 0 keeps none [default: 5]')
            [CompletionResult]::new('--restart', '--restart', [CompletionResultType]::ParameterName, 'When to restart the program: always (after any exit), or on-failure (only after a non-zero exit status or a signal; a clean exit ends the daemon, state "stopped") [default: always]')
            [CompletionResult]::new('--health', '--health', [CompletionResultType]::ParameterName, 'Check the program''s health once it is ready: tcp:[HOST:]PORT, http:URL, cmd:COMMAND or file:PATH; after --health-retries failures in a row the program is stopped and restarted (last exit "unhealthy")')
            [CompletionResult]::new('--health-interval', '--health-interval', [CompletionResultType]::ParameterName, 'How often the health check runs [default: 10s]')
            [CompletionResult]::new('--health-retries', '--health-retries', [CompletionResultType]::ParameterName, 'Failures in a row of the health check before a restart [default: 3]')
            [CompletionResult]::new('--watchdog', '--watchdog', [CompletionResultType]::ParameterName, 'The program must send WATCHDOG=1 (sd_notify) at least this often, or it is stopped and restarted (last exit "watchdog"); sets WATCHDOG_USEC and WATCHDOG_PID; needs --ready notify')
            [CompletionResult]::new('--on-exit', '--on-exit', [CompletionResultType]::ParameterName, 'Run `/bin/sh -c COMMAND` after each exit of the program (as its user, output to its log, killed after 60s), with RDAEMON_NAME, RDAEMON_EXIT, RDAEMON_EXIT_CODE or RDAEMON_EXIT_SIGNAL, RDAEMON_RESTARTS and RDAEMON_STATE (restarting, failed, stopped)')
            [CompletionResult]::new('--cgroup', '--cgroup', [CompletionResultType]::ParameterName, 'Run the daemon in its own cgroup rdaemon/NAME (NAME@HASH with --dir or RDAEMON_DIR; cgroup v2), so that stop reaches every process it spawned: auto where rdaemon can (root, a writable cgroup2 mount, not in a systemd tree that was not delegated), on (fail with the reason where it cannot), off [default: auto]')
            [CompletionResult]::new('--memory-max', '--memory-max', [CompletionResultType]::ParameterName, 'Limit the daemon''s memory to SIZE (512K, 10M, 1G): the cgroup''s memory.max; needs the memory controller')
            [CompletionResult]::new('--tasks-max', '--tasks-max', [CompletionResultType]::ParameterName, 'Limit the daemon to N processes and threads: the cgroup''s pids.max; needs the pids controller')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--forking', '--forking', [CompletionResultType]::ParameterName, 'The program daemonizes itself (nginx, redis-server --daemonize yes): wait for it to exit, then adopt the process it left, named by --pidfile (the pidfile the program writes; rdaemon only reads it) or, without --pidfile, the only process left')
            [CompletionResult]::new('--respawn', '--respawn', [CompletionResultType]::ParameterName, 'Supervise: a small rdaemon monitor runs PROGRAM as its child and restarts it whenever it exits; the pidfile holds the monitor''s pid')
            [CompletionResult]::new('--log-timestamps', '--log-timestamps', [CompletionResultType]::ParameterName, 'Prefix each line the program writes with its time (RFC 3339, milliseconds): the monitor reads the program''s output through pipes')
            [CompletionResult]::new('--foreground', '--foreground', [CompletionResultType]::ParameterName, 'Do not detach: write the pidfile and record, then exec PROGRAM in place of rdaemon (same pid, same stdio unless --log/--stdout/--stderr), for systemd units, containers, debugging')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'rdaemon;stop' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The daemon''s name, as an option')
            [CompletionResult]::new('--pidfile', '--pidfile', [CompletionResultType]::ParameterName, 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The daemons of an up file (rdaemon.toml or Procfile), by name')
            [CompletionResult]::new('--signal', '--signal', [CompletionResultType]::ParameterName, 'First signal (TERM, SIGTERM, 15, any case; the daemon''s --stop-signal unless given) [default: TERM]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait after the first signal before SIGKILL (the daemon''s --stop-timeout unless given) [default: 10s]')
            [CompletionResult]::new('--retry', '--retry', [CompletionResultType]::ParameterName, 'start-stop-daemon''s schedule instead of --timeout/--no-kill: TERM/30/KILL/5, N, .../forever; a timeout may also be a duration (INT/500ms/KILL/1, a bare 500ms). A schedule names its own signals: not with --signal, which only a bare timeout takes')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every daemon rdaemon knows')
            [CompletionResult]::new('--no-kill', '--no-kill', [CompletionResultType]::ParameterName, 'Never escalate to SIGKILL')
            [CompletionResult]::new('--main-only', '--main-only', [CompletionResultType]::ParameterName, 'Send the first signal only to the main process; the rest of the daemon (its group, its session, its cgroup) is waited for and gets only the SIGKILL at the timeout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'rdaemon;status' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The daemon''s name, as an option')
            [CompletionResult]::new('--pidfile', '--pidfile', [CompletionResultType]::ParameterName, 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The daemons of an up file (rdaemon.toml or Procfile), by name')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every daemon rdaemon knows')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document instead of text')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'rdaemon;list' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON array instead of a table')
            [CompletionResult]::new('--names', '--names', [CompletionResultType]::ParameterName, 'Print only the names, one per line (fast: no process is looked at)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'rdaemon;restart' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The daemon''s name, as an option')
            [CompletionResult]::new('--pidfile', '--pidfile', [CompletionResultType]::ParameterName, 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The daemons of an up file (rdaemon.toml or Procfile), by name')
            [CompletionResult]::new('--log', '--log', [CompletionResultType]::ParameterName, 'Append stdout and stderr to FILE [default: DIR/NAME.log; as root without --dir or RDAEMON_DIR: /var/log/rdaemon/NAME.log]')
            [CompletionResult]::new('--stdout', '--stdout', [CompletionResultType]::ParameterName, 'Append stdout to FILE (overrides --log; /dev/null discards)')
            [CompletionResult]::new('--stderr', '--stderr', [CompletionResultType]::ParameterName, 'Append stderr to FILE (overrides --log; /dev/null discards)')
            [CompletionResult]::new('--chdir', '--chdir', [CompletionResultType]::ParameterName, 'Working directory of the daemon [default: /]')
            [CompletionResult]::new('--umask', '--umask', [CompletionResultType]::ParameterName, 'File mode creation mask, in octal; the log files rdaemon creates get 0644 narrowed by it [default: 022]')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Set an environment variable (repeatable; KEY is letters, digits and _); the rest of the environment is inherited')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Read KEY=VALUE lines from FILE into the environment (repeatable; blank lines and # comments skipped, optional `export `, one level of quotes stripped); later files win, --env wins over files; read again at every start, restart and respawn')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Set a resource limit before exec (repeatable): nofile, nproc, core, memlock, as, fsize, cpu, stack, data; a number, a size for core/memlock/as/fsize/stack/data (64M), or unlimited; one value sets both the soft and the hard limit')
            [CompletionResult]::new('--nice', '--nice', [CompletionResultType]::ParameterName, 'Scheduling priority of the daemon, from -20 (highest) to 19 (lowest)')
            [CompletionResult]::new('--oom-score-adj', '--oom-score-adj', [CompletionResultType]::ParameterName, 'OOM score adjustment of the daemon, from -1000 (never killed) to 1000 (killed first)')
            [CompletionResult]::new('--stop-signal', '--stop-signal', [CompletionResultType]::ParameterName, 'The signal that stop, restart and down send first, unless told otherwise [default: TERM]')
            [CompletionResult]::new('--stop-timeout', '--stop-timeout', [CompletionResultType]::ParameterName, 'How long stop, restart and down wait after the stop signal before SIGKILL, unless told otherwise [default: 10s]')
            [CompletionResult]::new('--reload-signal', '--reload-signal', [CompletionResultType]::ParameterName, 'The signal that reload sends [default: HUP]')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Run as USER (name or uid), with GROUP or the user''s primary group and the user''s supplementary groups; only as root. The pidfile and logs are opened first, as root')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'Run with GROUP (name or gid) as the primary group; only as root')
            [CompletionResult]::new('--ready', '--ready', [CompletionResultType]::ParameterName, 'What "started" means: exec, alive:DURATION, notify, tcp:[HOST:]PORT, file:PATH, http:URL, log:REGEX or cmd:COMMAND [default: exec]')
            [CompletionResult]::new('--ready-timeout', '--ready-timeout', [CompletionResultType]::ParameterName, 'How long to wait for readiness before stopping the program and failing [default: 30s]')
            [CompletionResult]::new('--restart-delay', '--restart-delay', [CompletionResultType]::ParameterName, 'Delay before the first restart; doubles on each quick failure (up to 60s), back to the start once the program has run 60s [default: 1s]')
            [CompletionResult]::new('--max-restarts', '--max-restarts', [CompletionResultType]::ParameterName, 'Give up after N restarts within --restart-window (state "failed"); 0: never give up [default: 5]')
            [CompletionResult]::new('--restart-window', '--restart-window', [CompletionResultType]::ParameterName, 'The window of --max-restarts [default: 60s]')
            [CompletionResult]::new('--log-max-size', '--log-max-size', [CompletionResultType]::ParameterName, 'Rotate each log file at SIZE (512K, 10M, 1G): the monitor reads the program''s output through pipes and renames FILE to FILE.1 between lines; no file grows past SIZE (a line longer than SIZE is cut)')
            [CompletionResult]::new('--log-keep', '--log-keep', [CompletionResultType]::ParameterName, 'How many rotated files to keep (FILE.1 ... FILE.N), at most 1000; 0 keeps none [default: 5]')
            [CompletionResult]::new('--restart', '--restart', [CompletionResultType]::ParameterName, 'When to restart the program: always (after any exit), or on-failure (only after a non-zero exit status or a signal; a clean exit ends the daemon, state "stopped") [default: always]')
            [CompletionResult]::new('--health', '--health', [CompletionResultType]::ParameterName, 'Check the program''s health once it is ready: tcp:[HOST:]PORT, http:URL, cmd:COMMAND or file:PATH; after --health-retries failures in a row the program is stopped and restarted (last exit "unhealthy")')
            [CompletionResult]::new('--health-interval', '--health-interval', [CompletionResultType]::ParameterName, 'How often the health check runs [default: 10s]')
            [CompletionResult]::new('--health-retries', '--health-retries', [CompletionResultType]::ParameterName, 'Failures in a row of the health check before a restart [default: 3]')
            [CompletionResult]::new('--watchdog', '--watchdog', [CompletionResultType]::ParameterName, 'The program must send WATCHDOG=1 (sd_notify) at least this often, or it is stopped and restarted (last exit "watchdog"); sets WATCHDOG_USEC and WATCHDOG_PID; needs --ready notify')
            [CompletionResult]::new('--on-exit', '--on-exit', [CompletionResultType]::ParameterName, 'Run `/bin/sh -c COMMAND` after each exit of the program (as its user, output to its log, killed after 60s), with RDAEMON_NAME, RDAEMON_EXIT, RDAEMON_EXIT_CODE or RDAEMON_EXIT_SIGNAL, RDAEMON_RESTARTS and RDAEMON_STATE (restarting, failed, stopped)')
            [CompletionResult]::new('--cgroup', '--cgroup', [CompletionResultType]::ParameterName, 'Run the daemon in its own cgroup rdaemon/NAME (NAME@HASH with --dir or RDAEMON_DIR; cgroup v2), so that stop reaches every process it spawned: auto where rdaemon can (root, a writable cgroup2 mount, not in a systemd tree that was not delegated), on (fail with the reason where it cannot), off [default: auto]')
            [CompletionResult]::new('--memory-max', '--memory-max', [CompletionResultType]::ParameterName, 'Limit the daemon''s memory to SIZE (512K, 10M, 1G): the cgroup''s memory.max; needs the memory controller')
            [CompletionResult]::new('--tasks-max', '--tasks-max', [CompletionResultType]::ParameterName, 'Limit the daemon to N processes and threads: the cgroup''s pids.max; needs the pids controller')
            [CompletionResult]::new('--signal', '--signal', [CompletionResultType]::ParameterName, 'First signal (TERM, SIGTERM, 15, any case; the daemon''s --stop-signal unless given) [default: TERM]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait after the first signal before SIGKILL (the daemon''s --stop-timeout unless given) [default: 10s]')
            [CompletionResult]::new('--retry', '--retry', [CompletionResultType]::ParameterName, 'start-stop-daemon''s schedule instead of --timeout/--no-kill: TERM/30/KILL/5, N, .../forever; a timeout may also be a duration (INT/500ms/KILL/1, a bare 500ms). A schedule names its own signals: not with --signal, which only a bare timeout takes')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every daemon rdaemon knows')
            [CompletionResult]::new('--forking', '--forking', [CompletionResultType]::ParameterName, 'The program daemonizes itself (nginx, redis-server --daemonize yes): wait for it to exit, then adopt the process it left, named by --pidfile (the pidfile the program writes; rdaemon only reads it) or, without --pidfile, the only process left')
            [CompletionResult]::new('--respawn', '--respawn', [CompletionResultType]::ParameterName, 'Supervise: a small rdaemon monitor runs PROGRAM as its child and restarts it whenever it exits; the pidfile holds the monitor''s pid')
            [CompletionResult]::new('--log-timestamps', '--log-timestamps', [CompletionResultType]::ParameterName, 'Prefix each line the program writes with its time (RFC 3339, milliseconds): the monitor reads the program''s output through pipes')
            [CompletionResult]::new('--no-kill', '--no-kill', [CompletionResultType]::ParameterName, 'Never escalate to SIGKILL')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'rdaemon;resurrect' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'rdaemon;logs' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The daemon''s name, as an option')
            [CompletionResult]::new('--pidfile', '--pidfile', [CompletionResultType]::ParameterName, 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The daemons of an up file (rdaemon.toml or Procfile), by name')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'How many lines to print from the end of each log')
            [CompletionResult]::new('--lines', '--lines', [CompletionResultType]::ParameterName, 'How many lines to print from the end of each log')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every daemon rdaemon knows')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing what is appended, across rotation and truncation, until interrupted')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing what is appended, across rotation and truncation, until interrupted')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'rdaemon;forget' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The daemon''s name, as an option')
            [CompletionResult]::new('--pidfile', '--pidfile', [CompletionResultType]::ParameterName, 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The daemons of an up file (rdaemon.toml or Procfile), by name')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every daemon rdaemon knows')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'rdaemon;signal' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The daemon''s name, as an option')
            [CompletionResult]::new('--pidfile', '--pidfile', [CompletionResultType]::ParameterName, 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The daemons of an up file (rdaemon.toml or Procfile), by name')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every daemon rdaemon knows')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'Send it to every process of the daemon, not only the main program: its process group, then the rest of its cgroup (or session)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'rdaemon;reload' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The daemon''s name, as an option')
            [CompletionResult]::new('--pidfile', '--pidfile', [CompletionResultType]::ParameterName, 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The daemons of an up file (rdaemon.toml or Procfile), by name')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'With --ready notify in respawn mode: how long to wait for RELOADING=1 then READY=1 (exit 1 after) [default: the daemon''s --ready-timeout]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every daemon rdaemon knows')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'rdaemon;wait' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The daemon''s name, as an option')
            [CompletionResult]::new('--pidfile', '--pidfile', [CompletionResultType]::ParameterName, 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The daemons of an up file (rdaemon.toml or Procfile), by name')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up after DURATION (exit 1, naming the daemons still running) [default: wait forever]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every daemon rdaemon knows')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'rdaemon;up' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'The file declaring the daemons: TOML, or a Procfile when its name ends in Procfile or .procfile, or begins with Procfile. (Procfile.dev) [default: ./rdaemon.toml, else ./Procfile]')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The file declaring the daemons: TOML, or a Procfile when its name ends in Procfile or .procfile, or begins with Procfile. (Procfile.dev) [default: ./rdaemon.toml, else ./Procfile]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'rdaemon;down' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'The file declaring the daemons: TOML, or a Procfile when its name ends in Procfile or .procfile, or begins with Procfile. (Procfile.dev) [default: ./rdaemon.toml, else ./Procfile]')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The file declaring the daemons: TOML, or a Procfile when its name ends in Procfile or .procfile, or begins with Procfile. (Procfile.dev) [default: ./rdaemon.toml, else ./Procfile]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'rdaemon;export' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The daemon''s name, as an option')
            [CompletionResult]::new('--pidfile', '--pidfile', [CompletionResultType]::ParameterName, 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Every daemon of an up file (rdaemon.toml or Procfile), from the file: one unit each with After=/Requires= from after, and a target grouping them (systemd); one task each (nomad)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Every daemon of an up file (rdaemon.toml or Procfile), from the file: one unit each with After=/Requires= from after, and a target grouping them (systemd); one task each (nomad)')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'systemd -f: write NAME.service and TARGET.target into DIR instead of printing them')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'The name of the systemd target (-f) or of the Nomad job [default: the file''s directory name; nomad without -f: rdaemon]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'rdaemon;completions' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what rdaemon does')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'rdaemon;help' {
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Detach PROGRAM as a daemon, write its pidfile and record, and report once it really runs; `start NAME` starts a stopped daemon again from its spec')
            [CompletionResult]::new('stop', 'stop', [CompletionResultType]::ParameterValue, 'Stop a daemon: signal its process group, wait exactly until it is gone, KILL if it must')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Tell whether a daemon runs (LSB exit codes: 0 running, 1 dead, 3 stopped, 4 unknown)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every daemon in the rdaemon directory')
            [CompletionResult]::new('restart', 'restart', [CompletionResultType]::ParameterValue, 'Stop a daemon if it runs, then start it again with its recorded command line')
            [CompletionResult]::new('resurrect', 'resurrect', [CompletionResultType]::ParameterValue, 'Start every daemon whose spec wants it running and that does not run (after a reboot)')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print the last lines of a daemon''s log; -f follows it (across rotation) until interrupted')
            [CompletionResult]::new('forget', 'forget', [CompletionResultType]::ParameterValue, 'Remove stopped daemons'' records (their logs stay); refuses a daemon that runs')
            [CompletionResult]::new('signal', 'signal', [CompletionResultType]::ParameterValue, 'Send a signal to daemons'' main programs (in respawn mode: the program, not its monitor)')
            [CompletionResult]::new('reload', 'reload', [CompletionResultType]::ParameterValue, 'Tell daemons to reload their configuration (their reload signal: HUP)')
            [CompletionResult]::new('wait', 'wait', [CompletionResultType]::ParameterValue, 'Wait until daemons have exited (on pidfds, no polling), saying how each ended')
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Start the daemons of a file (rdaemon.toml or Procfile), each once what it comes after is ready, independent ones at once; unchanged running ones are left alone')
            [CompletionResult]::new('down', 'down', [CompletionResultType]::ParameterValue, 'Stop the daemons of a file, dependents first, independent ones at once; their specs stay')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Print a service definition for another supervisor (systemd, Nomad), built from daemons'' records or from an up file')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (bash, zsh, fish, elvish, powershell)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'rdaemon;help;start' {
            break
        }
        'rdaemon;help;stop' {
            break
        }
        'rdaemon;help;status' {
            break
        }
        'rdaemon;help;list' {
            break
        }
        'rdaemon;help;restart' {
            break
        }
        'rdaemon;help;resurrect' {
            break
        }
        'rdaemon;help;logs' {
            break
        }
        'rdaemon;help;forget' {
            break
        }
        'rdaemon;help;signal' {
            break
        }
        'rdaemon;help;reload' {
            break
        }
        'rdaemon;help;wait' {
            break
        }
        'rdaemon;help;up' {
            break
        }
        'rdaemon;help;down' {
            break
        }
        'rdaemon;help;export' {
            break
        }
        'rdaemon;help;completions' {
            break
        }
        'rdaemon;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
