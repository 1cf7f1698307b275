namespace BtwBackup.Cli;

/// <summary>The commands of btw-backup, with the original's arguments.</summary>
public static class CommandLine
{
    public const string Prog = "btw-backup";

    private static readonly OptionSpec Uid = new(["-u", "--uid"], "uid",
        "sets the owner of the created files, as chown takes it (names or numbers)", TakesValue: true, Metavar: "UID[:GID]");

    public static readonly IReadOnlyList<CommandSpec> Commands =
    [
        new("fs", "backs up a filesystem hierarchy", [Uid],
        [
            new("src", "the source to backup"),
            new("dst", "the final destination directory where to put the backup (relative to the root path)"),
        ]),
        new("fs-init", "initializes the working directory for backups",
        [
            new(["--type"], "backup_type", "the type of backup", TakesValue: true, Choices: ["rdiff", "tar"], Required: true),
        ],
        [
            new("src", "the source to backup"),
            new("name", "a mnemonic to use for the working directory"),
        ]),
        new("list", "lists backups",
        [
            new(["--retention"], "retention", "marks each point kept (and why) or removed by the series' retention policy"),
        ],
        [
            new("dst", "the directory the backups are stored (relative to the root path)"),
        ]),
        new("db", "makes a database backup",
        [
            new(["-g", "--global"], "g", "back up the database globals"),
            Uid,
        ],
        [
            new("db", "the name of the database to backup", Optional: true),
            new("dst", "the final destination directory where to put the backup (relative to the root path)"),
        ]),
        new("sync", "sync the files from the root path to S3 storage",
        [
            new(["--full"], "full", "queue the whole root path, then sync"),
            new(["--allow-deletes"], "allow_deletes", "go ahead with deletions the limits hold back (sync.max-delete, half a folder, a whole series)"),
        ], []),
        new("sync-state", "checks or resets the sync state",
        [
            new(["--list"], "list", "lists the files that must still be synced or pushed"),
            new(["--reset"], "reset", "empties the sync state (refused while anything is pending)"),
            new(["--history"], "history", "shows what happened to the sync state, oldest first"),
            new(["--since"], "since", "with --history: only what happened at or after TIME (UTC)", TakesValue: true, Metavar: "TIME"),
            new(["--host"], "host", "with --list or --history, in a cluster on a shared journal: host H's sync state", TakesValue: true, Metavar: "H"),
        ], [])
        {
            ExclusiveGroup = ["--list", "--reset", "--history"],
            ExclusiveRequired = true,
        },
        new("run", "backs up the configured sources (all, or those named), then syncs",
        [
            new(["--json"], "json", "prints the summary as JSON"),
            new(["--host"], "host", "in a cluster: every source of host H (besides any HOST:SOURCE named)", TakesValue: true, Metavar: "H"),
        ],
        [
            new("SOURCE", "a source of btw-backup.conf's sources block", Many: true),
        ]),
        new("status", "shows each source's last backup, each destination's pending work, and the daemon",
        [
            new(["--json"], "json", "prints the status as JSON"),
            new(["--history"], "history", "lists every run kept (backups and syncs, sync.history-window), oldest first"),
            new(["--since"], "since", "with --history: only the runs ended at or after TIME (UTC)", TakesValue: true, Metavar: "TIME"),
        ],
        [
            new("SOURCE", "with --history: only this source's (or destination's) runs", Optional: true),
        ]),
        new("restore", "restores a backup: a file tree into TARGET, a dump into TARGET or into a database",
        [
            new(["--at"], "at", "the backup to restore: a name list prints, an ISO time (the latest at or before it), or now (default)", TakesValue: true, Metavar: "TIME"),
            new(["--from"], "from", "fetch the backup from this S3 destination (when root is lost)", TakesValue: true, Metavar: "DESTINATION"),
            new(["--database"], "database", "restore a database dump into this database (created if absent) instead of TARGET", TakesValue: true, Metavar: "NAME"),
            new(["--force"], "force", "replace a non-empty TARGET, or restore into a database that has tables"),
            new(["--identity"], "identity", "with --from: the age identity file that decrypts an encrypted destination", TakesValue: true, Metavar: "FILE"),
        ],
        [
            new("dst", "the directory the backups are stored (relative to the root path)"),
            new("target", "an empty or absent folder to restore into", Optional: true),
        ]),
        new("verify", "reads every stored backup back and compares the destinations with root",
        [
            new(["--json"], "json", "prints the report as JSON"),
            new(["--deep"], "deep", "downloads every object and compares its content with root (decrypted, for an encrypted destination)"),
            new(["--identity"], "identity", "with --deep: the age identity file that decrypts the encrypted destinations", TakesValue: true, Metavar: "FILE"),
        ],
        [
            new("DST", "a series to verify (default: every series under the root path)", Many: true),
        ]),
        new("prune", "removes the points a series' retention policy does not keep",
        [
            new(["--dry-run"], "dry_run", "says what it would remove and why, and changes nothing"),
            new(["--json"], "json", "prints the points as JSON"),
        ],
        [
            new("DST", "a series to prune (default: every configured source with a retention policy)", Many: true),
        ]),
        new("serve", "runs the daemon: passes on the schedule, the CLI's commands over the network", [], []),
        new("keygen", "makes an age identity for encrypted destinations: the identity to FILE (keep it off this server), its recipient on stdout", [],
        [
            new("file", "where to write the identity (a new file, mode 0600; default: stdout)", Optional: true),
        ]),
    ];

    public static string Version =>
        typeof(CommandLine).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "0.0.0";

    public static ArgParser Parser() => new(Prog, Version, Commands);

    /// <summary>
    /// Prints what parsing decided (help, the version, a usage error) and returns its exit code; 1
    /// when it cannot be written (stdout closed, or a full disk behind it), with a line on stderr
    /// when stderr can take one.
    /// </summary>
    public static int Print(ParseOutcome.Exit exit)
    {
        try
        {
            Console.Out.Write(exit.Stdout);
            Console.Out.Flush();
            Console.Error.Write(exit.Stderr);
            Console.Error.Flush();
            return exit.Code;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                Console.Error.WriteLine($"{Prog}: cannot write its output: {e.Message}");
            }
            catch (Exception again) when (again is IOException or UnauthorizedAccessException)
            {
                // stderr is gone too: the exit code is all that is left to say it.
            }

            return 1;
        }
    }
}
