
use builtin;
use str;

set edit:completion:arg-completer[rdaemon] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'rdaemon'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'rdaemon'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand start 'Detach PROGRAM as a daemon, write its pidfile and record, and report once it really runs; `start NAME` starts a stopped daemon again from its spec'
            cand stop 'Stop a daemon: signal its process group, wait exactly until it is gone, KILL if it must'
            cand status 'Tell whether a daemon runs (LSB exit codes: 0 running, 1 dead, 3 stopped, 4 unknown)'
            cand list 'List every daemon in the rdaemon directory'
            cand restart 'Stop a daemon if it runs, then start it again with its recorded command line'
            cand resurrect 'Start every daemon whose spec wants it running and that does not run (after a reboot)'
            cand logs 'Print the last lines of a daemon''s log; -f follows it (across rotation) until interrupted'
            cand forget 'Remove stopped daemons'' records (their logs stay); refuses a daemon that runs'
            cand signal 'Send a signal to daemons'' main programs (in respawn mode: the program, not its monitor)'
            cand reload 'Tell daemons to reload their configuration (their reload signal: HUP)'
            cand wait 'Wait until daemons have exited (on pidfds, no polling), saying how each ended'
            cand up 'Start the daemons of a file (rdaemon.toml or Procfile), each once what it comes after is ready, independent ones at once; unchanged running ones are left alone'
            cand down 'Stop the daemons of a file, dependents first, independent ones at once; their specs stay'
            cand export 'Print a service definition for another supervisor (systemd, Nomad), built from daemons'' records or from an up file'
            cand completions 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'rdaemon;start'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand --name 'The daemon''s name [default: the pidfile''s stem, else the program''s basename]'
            cand --pidfile 'Where to write the pidfile [default: DIR/NAME.pid; as root without --dir or RDAEMON_DIR: /run/rdaemon/NAME.pid]; with --forking, the pidfile the program writes, which rdaemon only reads'
            cand --log 'Append stdout and stderr to FILE [default: DIR/NAME.log; as root without --dir or RDAEMON_DIR: /var/log/rdaemon/NAME.log]'
            cand --stdout 'Append stdout to FILE (overrides --log; /dev/null discards)'
            cand --stderr 'Append stderr to FILE (overrides --log; /dev/null discards)'
            cand --chdir 'Working directory of the daemon [default: /]'
            cand --umask 'File mode creation mask, in octal; the log files rdaemon creates get 0644 narrowed by it [default: 022]'
            cand --env 'Set an environment variable (repeatable; KEY is letters, digits and _); the rest of the environment is inherited'
            cand --env-file 'Read KEY=VALUE lines from FILE into the environment (repeatable; blank lines and # comments skipped, optional `export `, one level of quotes stripped); later files win, --env wins over files; read again at every start, restart and respawn'
            cand --limit 'Set a resource limit before exec (repeatable): nofile, nproc, core, memlock, as, fsize, cpu, stack, data; a number, a size for core/memlock/as/fsize/stack/data (64M), or unlimited; one value sets both the soft and the hard limit'
            cand --nice 'Scheduling priority of the daemon, from -20 (highest) to 19 (lowest)'
            cand --oom-score-adj 'OOM score adjustment of the daemon, from -1000 (never killed) to 1000 (killed first)'
            cand --stop-signal 'The signal that stop, restart and down send first, unless told otherwise [default: TERM]'
            cand --stop-timeout 'How long stop, restart and down wait after the stop signal before SIGKILL, unless told otherwise [default: 10s]'
            cand --reload-signal 'The signal that reload sends [default: HUP]'
            cand --user 'Run as USER (name or uid), with GROUP or the user''s primary group and the user''s supplementary groups; only as root. The pidfile and logs are opened first, as root'
            cand --group 'Run with GROUP (name or gid) as the primary group; only as root'
            cand --ready 'What "started" means: exec, alive:DURATION, notify, tcp:[HOST:]PORT, file:PATH, http:URL, log:REGEX or cmd:COMMAND [default: exec]'
            cand --ready-timeout 'How long to wait for readiness before stopping the program and failing [default: 30s]'
            cand --restart-delay 'Delay before the first restart; doubles on each quick failure (up to 60s), back to the start once the program has run 60s [default: 1s]'
            cand --max-restarts 'Give up after N restarts within --restart-window (state "failed"); 0: never give up [default: 5]'
            cand --restart-window 'The window of --max-restarts [default: 60s]'
            cand --log-max-size 'Rotate each log file at SIZE (512K, 10M, 1G): the monitor reads the program''s output through pipes and renames FILE to FILE.1 between lines; no file grows past SIZE (a line longer than SIZE is cut)'
            cand --log-keep 'How many rotated files to keep (FILE.1 ... FILE.N), at most 1000; 0 keeps none [default: 5]'
            cand --restart 'When to restart the program: always (after any exit), or on-failure (only after a non-zero exit status or a signal; a clean exit ends the daemon, state "stopped") [default: always]'
            cand --health 'Check the program''s health once it is ready: tcp:[HOST:]PORT, http:URL, cmd:COMMAND or file:PATH; after --health-retries failures in a row the program is stopped and restarted (last exit "unhealthy")'
            cand --health-interval 'How often the health check runs [default: 10s]'
            cand --health-retries 'Failures in a row of the health check before a restart [default: 3]'
            cand --watchdog 'The program must send WATCHDOG=1 (sd_notify) at least this often, or it is stopped and restarted (last exit "watchdog"); sets WATCHDOG_USEC and WATCHDOG_PID; needs --ready notify'
            cand --on-exit 'Run `/bin/sh -c COMMAND` after each exit of the program (as its user, output to its log, killed after 60s), with RDAEMON_NAME, RDAEMON_EXIT, RDAEMON_EXIT_CODE or RDAEMON_EXIT_SIGNAL, RDAEMON_RESTARTS and RDAEMON_STATE (restarting, failed, stopped)'
            cand --cgroup 'Run the daemon in its own cgroup rdaemon/NAME (NAME@HASH with --dir or RDAEMON_DIR; cgroup v2), so that stop reaches every process it spawned: auto where rdaemon can (root, a writable cgroup2 mount, not in a systemd tree that was not delegated), on (fail with the reason where it cannot), off [default: auto]'
            cand --memory-max 'Limit the daemon''s memory to SIZE (512K, 10M, 1G): the cgroup''s memory.max; needs the memory controller'
            cand --tasks-max 'Limit the daemon to N processes and threads: the cgroup''s pids.max; needs the pids controller'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand --forking 'The program daemonizes itself (nginx, redis-server --daemonize yes): wait for it to exit, then adopt the process it left, named by --pidfile (the pidfile the program writes; rdaemon only reads it) or, without --pidfile, the only process left'
            cand --respawn 'Supervise: a small rdaemon monitor runs PROGRAM as its child and restarts it whenever it exits; the pidfile holds the monitor''s pid'
            cand --log-timestamps 'Prefix each line the program writes with its time (RFC 3339, milliseconds): the monitor reads the program''s output through pipes'
            cand --foreground 'Do not detach: write the pidfile and record, then exec PROGRAM in place of rdaemon (same pid, same stdio unless --log/--stdout/--stderr), for systemd units, containers, debugging'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'rdaemon;stop'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand --name 'The daemon''s name, as an option'
            cand --pidfile 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)'
            cand --file 'The daemons of an up file (rdaemon.toml or Procfile), by name'
            cand --signal 'First signal (TERM, SIGTERM, 15, any case; the daemon''s --stop-signal unless given) [default: TERM]'
            cand --timeout 'How long to wait after the first signal before SIGKILL (the daemon''s --stop-timeout unless given) [default: 10s]'
            cand --retry 'start-stop-daemon''s schedule instead of --timeout/--no-kill: TERM/30/KILL/5, N, .../forever; a timeout may also be a duration (INT/500ms/KILL/1, a bare 500ms). A schedule names its own signals: not with --signal, which only a bare timeout takes'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand --all 'Every daemon rdaemon knows'
            cand --no-kill 'Never escalate to SIGKILL'
            cand --main-only 'Send the first signal only to the main process; the rest of the daemon (its group, its session, its cgroup) is waited for and gets only the SIGKILL at the timeout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'rdaemon;status'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand --name 'The daemon''s name, as an option'
            cand --pidfile 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)'
            cand --file 'The daemons of an up file (rdaemon.toml or Procfile), by name'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand --all 'Every daemon rdaemon knows'
            cand --json 'Print one JSON document instead of text'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'rdaemon;list'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand --json 'Print a JSON array instead of a table'
            cand --names 'Print only the names, one per line (fast: no process is looked at)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'rdaemon;restart'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand --name 'The daemon''s name, as an option'
            cand --pidfile 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)'
            cand --file 'The daemons of an up file (rdaemon.toml or Procfile), by name'
            cand --log 'Append stdout and stderr to FILE [default: DIR/NAME.log; as root without --dir or RDAEMON_DIR: /var/log/rdaemon/NAME.log]'
            cand --stdout 'Append stdout to FILE (overrides --log; /dev/null discards)'
            cand --stderr 'Append stderr to FILE (overrides --log; /dev/null discards)'
            cand --chdir 'Working directory of the daemon [default: /]'
            cand --umask 'File mode creation mask, in octal; the log files rdaemon creates get 0644 narrowed by it [default: 022]'
            cand --env 'Set an environment variable (repeatable; KEY is letters, digits and _); the rest of the environment is inherited'
            cand --env-file 'Read KEY=VALUE lines from FILE into the environment (repeatable; blank lines and # comments skipped, optional `export `, one level of quotes stripped); later files win, --env wins over files; read again at every start, restart and respawn'
            cand --limit 'Set a resource limit before exec (repeatable): nofile, nproc, core, memlock, as, fsize, cpu, stack, data; a number, a size for core/memlock/as/fsize/stack/data (64M), or unlimited; one value sets both the soft and the hard limit'
            cand --nice 'Scheduling priority of the daemon, from -20 (highest) to 19 (lowest)'
            cand --oom-score-adj 'OOM score adjustment of the daemon, from -1000 (never killed) to 1000 (killed first)'
            cand --stop-signal 'The signal that stop, restart and down send first, unless told otherwise [default: TERM]'
            cand --stop-timeout 'How long stop, restart and down wait after the stop signal before SIGKILL, unless told otherwise [default: 10s]'
            cand --reload-signal 'The signal that reload sends [default: HUP]'
            cand --user 'Run as USER (name or uid), with GROUP or the user''s primary group and the user''s supplementary groups; only as root. The pidfile and logs are opened first, as root'
            cand --group 'Run with GROUP (name or gid) as the primary group; only as root'
            cand --ready 'What "started" means: exec, alive:DURATION, notify, tcp:[HOST:]PORT, file:PATH, http:URL, log:REGEX or cmd:COMMAND [default: exec]'
            cand --ready-timeout 'How long to wait for readiness before stopping the program and failing [default: 30s]'
            cand --restart-delay 'Delay before the first restart; doubles on each quick failure (up to 60s), back to the start once the program has run 60s [default: 1s]'
            cand --max-restarts 'Give up after N restarts within --restart-window (state "failed"); 0: never give up [default: 5]'
            cand --restart-window 'The window of --max-restarts [default: 60s]'
            cand --log-max-size 'Rotate each log file at SIZE (512K, 10M, 1G): the monitor reads the program''s output through pipes and renames FILE to FILE.1 between lines; no file grows past SIZE (a line longer than SIZE is cut)'
            cand --log-keep 'How many rotated files to keep (FILE.1 ... FILE.N), at most 1000; 0 keeps none [default: 5]'
            cand --restart 'When to restart the program: always (after any exit), or on-failure (only after a non-zero exit status or a signal; a clean exit ends the daemon, state "stopped") [default: always]'
            cand --health 'Check the program''s health once it is ready: tcp:[HOST:]PORT, http:URL, cmd:COMMAND or file:PATH; after --health-retries failures in a row the program is stopped and restarted (last exit "unhealthy")'
            cand --health-interval 'How often the health check runs [default: 10s]'
            cand --health-retries 'Failures in a row of the health check before a restart [default: 3]'
            cand --watchdog 'The program must send WATCHDOG=1 (sd_notify) at least this often, or it is stopped and restarted (last exit "watchdog"); sets WATCHDOG_USEC and WATCHDOG_PID; needs --ready notify'
            cand --on-exit 'Run `/bin/sh -c COMMAND` after each exit of the program (as its user, output to its log, killed after 60s), with RDAEMON_NAME, RDAEMON_EXIT, RDAEMON_EXIT_CODE or RDAEMON_EXIT_SIGNAL, RDAEMON_RESTARTS and RDAEMON_STATE (restarting, failed, stopped)'
            cand --cgroup 'Run the daemon in its own cgroup rdaemon/NAME (NAME@HASH with --dir or RDAEMON_DIR; cgroup v2), so that stop reaches every process it spawned: auto where rdaemon can (root, a writable cgroup2 mount, not in a systemd tree that was not delegated), on (fail with the reason where it cannot), off [default: auto]'
            cand --memory-max 'Limit the daemon''s memory to SIZE (512K, 10M, 1G): the cgroup''s memory.max; needs the memory controller'
            cand --tasks-max 'Limit the daemon to N processes and threads: the cgroup''s pids.max; needs the pids controller'
            cand --signal 'First signal (TERM, SIGTERM, 15, any case; the daemon''s --stop-signal unless given) [default: TERM]'
            cand --timeout 'How long to wait after the first signal before SIGKILL (the daemon''s --stop-timeout unless given) [default: 10s]'
            cand --retry 'start-stop-daemon''s schedule instead of --timeout/--no-kill: TERM/30/KILL/5, N, .../forever; a timeout may also be a duration (INT/500ms/KILL/1, a bare 500ms). A schedule names its own signals: not with --signal, which only a bare timeout takes'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand --all 'Every daemon rdaemon knows'
            cand --forking 'The program daemonizes itself (nginx, redis-server --daemonize yes): wait for it to exit, then adopt the process it left, named by --pidfile (the pidfile the program writes; rdaemon only reads it) or, without --pidfile, the only process left'
            cand --respawn 'Supervise: a small rdaemon monitor runs PROGRAM as its child and restarts it whenever it exits; the pidfile holds the monitor''s pid'
            cand --log-timestamps 'Prefix each line the program writes with its time (RFC 3339, milliseconds): the monitor reads the program''s output through pipes'
            cand --no-kill 'Never escalate to SIGKILL'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'rdaemon;resurrect'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'rdaemon;logs'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand --name 'The daemon''s name, as an option'
            cand --pidfile 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)'
            cand --file 'The daemons of an up file (rdaemon.toml or Procfile), by name'
            cand -n 'How many lines to print from the end of each log'
            cand --lines 'How many lines to print from the end of each log'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand --all 'Every daemon rdaemon knows'
            cand -f 'Keep printing what is appended, across rotation and truncation, until interrupted'
            cand --follow 'Keep printing what is appended, across rotation and truncation, until interrupted'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'rdaemon;forget'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand --name 'The daemon''s name, as an option'
            cand --pidfile 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)'
            cand --file 'The daemons of an up file (rdaemon.toml or Procfile), by name'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand --all 'Every daemon rdaemon knows'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'rdaemon;signal'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand --name 'The daemon''s name, as an option'
            cand --pidfile 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)'
            cand --file 'The daemons of an up file (rdaemon.toml or Procfile), by name'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand --all 'Every daemon rdaemon knows'
            cand --group 'Send it to every process of the daemon, not only the main program: its process group, then the rest of its cgroup (or session)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'rdaemon;reload'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand --name 'The daemon''s name, as an option'
            cand --pidfile 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)'
            cand --file 'The daemons of an up file (rdaemon.toml or Procfile), by name'
            cand --timeout 'With --ready notify in respawn mode: how long to wait for RELOADING=1 then READY=1 (exit 1 after) [default: the daemon''s --ready-timeout]'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand --all 'Every daemon rdaemon knows'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'rdaemon;wait'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand --name 'The daemon''s name, as an option'
            cand --pidfile 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)'
            cand --file 'The daemons of an up file (rdaemon.toml or Procfile), by name'
            cand --timeout 'Give up after DURATION (exit 1, naming the daemons still running) [default: wait forever]'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand --all 'Every daemon rdaemon knows'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'rdaemon;up'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand -f 'The file declaring the daemons: TOML, or a Procfile when its name ends in Procfile or .procfile, or begins with Procfile. (Procfile.dev) [default: ./rdaemon.toml, else ./Procfile]'
            cand --file 'The file declaring the daemons: TOML, or a Procfile when its name ends in Procfile or .procfile, or begins with Procfile. (Procfile.dev) [default: ./rdaemon.toml, else ./Procfile]'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'rdaemon;down'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand -f 'The file declaring the daemons: TOML, or a Procfile when its name ends in Procfile or .procfile, or begins with Procfile. (Procfile.dev) [default: ./rdaemon.toml, else ./Procfile]'
            cand --file 'The file declaring the daemons: TOML, or a Procfile when its name ends in Procfile or .procfile, or begins with Procfile. (Procfile.dev) [default: ./rdaemon.toml, else ./Procfile]'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'rdaemon;export'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand --name 'The daemon''s name, as an option'
            cand --pidfile 'The daemon''s pidfile (matched against the records; any pidfile works; beside a NAME, it must be that daemon''s own)'
            cand -f 'Every daemon of an up file (rdaemon.toml or Procfile), from the file: one unit each with After=/Requires= from after, and a target grouping them (systemd); one task each (nomad)'
            cand --file 'Every daemon of an up file (rdaemon.toml or Procfile), from the file: one unit each with After=/Requires= from after, and a target grouping them (systemd); one task each (nomad)'
            cand --out 'systemd -f: write NAME.service and TARGET.target into DIR instead of printing them'
            cand --target 'The name of the systemd target (-f) or of the Nomad job [default: the file''s directory name; nomad without -f: rdaemon]'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'rdaemon;completions'= {
            cand --dir 'The rdaemon directory holding pidfiles, records and logs [env: RDAEMON_DIR] [default: /var/lib/rdaemon (runtime: /run/rdaemon) as root, else $XDG_STATE_HOME/rdaemon]'
            cand -q 'Print less: only errors'
            cand --quiet 'Print less: only errors'
            cand -v 'Print more about what rdaemon does'
            cand --verbose 'Print more about what rdaemon does'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'rdaemon;help'= {
            cand start 'Detach PROGRAM as a daemon, write its pidfile and record, and report once it really runs; `start NAME` starts a stopped daemon again from its spec'
            cand stop 'Stop a daemon: signal its process group, wait exactly until it is gone, KILL if it must'
            cand status 'Tell whether a daemon runs (LSB exit codes: 0 running, 1 dead, 3 stopped, 4 unknown)'
            cand list 'List every daemon in the rdaemon directory'
            cand restart 'Stop a daemon if it runs, then start it again with its recorded command line'
            cand resurrect 'Start every daemon whose spec wants it running and that does not run (after a reboot)'
            cand logs 'Print the last lines of a daemon''s log; -f follows it (across rotation) until interrupted'
            cand forget 'Remove stopped daemons'' records (their logs stay); refuses a daemon that runs'
            cand signal 'Send a signal to daemons'' main programs (in respawn mode: the program, not its monitor)'
            cand reload 'Tell daemons to reload their configuration (their reload signal: HUP)'
            cand wait 'Wait until daemons have exited (on pidfds, no polling), saying how each ended'
            cand up 'Start the daemons of a file (rdaemon.toml or Procfile), each once what it comes after is ready, independent ones at once; unchanged running ones are left alone'
            cand down 'Stop the daemons of a file, dependents first, independent ones at once; their specs stay'
            cand export 'Print a service definition for another supervisor (systemd, Nomad), built from daemons'' records or from an up file'
            cand completions 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'rdaemon;help;start'= {
        }
        &'rdaemon;help;stop'= {
        }
        &'rdaemon;help;status'= {
        }
        &'rdaemon;help;list'= {
        }
        &'rdaemon;help;restart'= {
        }
        &'rdaemon;help;resurrect'= {
        }
        &'rdaemon;help;logs'= {
        }
        &'rdaemon;help;forget'= {
        }
        &'rdaemon;help;signal'= {
        }
        &'rdaemon;help;reload'= {
        }
        &'rdaemon;help;wait'= {
        }
        &'rdaemon;help;up'= {
        }
        &'rdaemon;help;down'= {
        }
        &'rdaemon;help;export'= {
        }
        &'rdaemon;help;completions'= {
        }
        &'rdaemon;help;help'= {
        }
    ]
    $completions[$command]
}
