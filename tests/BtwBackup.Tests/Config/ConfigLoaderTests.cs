using BtwBackup.Config;
using Xunit;

namespace BtwBackup.Tests.Config;

public sealed class ConfigLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_daemon_listens_on_loopback_on_demand_by_default_and_takes_a_cron_schedule()
    {
        var defaults = LoadHocon("root-path = /b");
        Assert.Equal(("127.0.0.1", DaemonSettings.DefaultPort, null, 2), (defaults.Daemon.Hostname, defaults.Daemon.Port, defaults.Daemon.NextRun(DateTime.UtcNow), defaults.PassParallelism));

        var nightly = LoadHocon("root-path = /b\ndaemon { port = 5000, schedule = \"30 2 * * *\" }\nrun.parallelism = 3");
        var next = nightly.Daemon.NextRun(new DateTime(2026, 1, 1, 12, 0, 0, DateTimeKind.Utc))!.Value.ToLocalTime();
        Assert.Equal((5000, 3, 2, 30, 0), (nightly.Daemon.Port, nightly.PassParallelism, next.Hour, next.Minute, next.Second));
        Assert.Equal("30 2 * * *", nightly.Daemon.ScheduleText);
    }

    [Fact]
    public void A_reload_applies_sources_schedule_and_parallelism_and_names_what_needs_a_restart()
    {
        var running = LoadHocon("root-path = /b\ndaemon.port = 5000\nsources { www { type = tar, path = /srv/www, dst = www } }");
        var same = Reload.Apply(running, LoadHocon("root-path = /b\ndaemon.port = 5000\nsources { www { type = tar, path = /srv/www, dst = www } }"));
        Assert.Empty(same.NeedRestart);

        var fresh = LoadHocon("""
            root-path = /elsewhere
            daemon { port = 6000, schedule = "0 3 * * *" }
            run.parallelism = 4
            sources {
              www { type = tar, path = /srv/www, dst = www }
              db { type = pg-dump, database = shop, dst = db/shop }
            }
            """);
        var (applied, needRestart) = Reload.Apply(running, fresh);

        Assert.Equal(["root-path", "daemon.hostname, daemon.port, daemon.tls"], needRestart);
        Assert.Equal(("/b", 5000), (applied.RootPath, applied.Daemon.Port));
        Assert.Equal((4, "0 3 * * *"), (applied.PassParallelism, applied.Daemon.ScheduleText));
        Assert.Equal(["db", "www"], applied.Sources.Select(x => x.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_reload_takes_new_monitoring_checks_at_once_and_keeps_the_web_server_until_a_restart()
    {
        const string Source = "sources { www { type = tar, path = /srv/www, dst = www, monitoring { healthchecks { url = \"https://hc.example/www\" } } } }";
        var running = LoadHocon($"root-path = /b\nhttp.port = 9471\n{Source}");
        Assert.Equal(running.Monitoring, Reload.Apply(running, LoadHocon($"root-path = /b\nhttp.port = 9471\n{Source}")).Applied.Monitoring);
        Assert.Equal(new Uri("https://hc.example/www"), running.Monitoring.Sources["www"]);

        var (applied, needRestart) = Reload.Apply(running, LoadHocon($"root-path = /b\nhttp.port = 9472\nmonitoring.healthchecks.url = \"https://hc.example/pass\"\n{Source}"));
        Assert.Equal(["http"], needRestart);
        Assert.Equal(9471, applied.Http!.Port);
        Assert.Equal(new Uri("https://hc.example/pass"), applied.Monitoring.Healthchecks);
        Assert.NotEqual(running.Monitoring, applied.Monitoring);
    }

    [Fact]
    public void A_cluster_block_names_this_host_its_address_its_seeds_and_the_pinned_pair()
    {
        Assert.Null(LoadHocon("root-path = /b").Cluster);
        var c = LoadHocon("""
            root-path = /b
            cluster {
              host = db1
              hostname = "10.0.0.2"
              seed-nodes = "10.0.0.1:4719, [fd00::1]:4719 ,backup-a.example:5000"
              tls { certificate = cluster-cert.pem, key = cluster-key.pem }
            }
            """).Cluster!;
        Assert.Equal(("db1", "10.0.0.2", 4719, "10.0.0.2"), (c.Host, c.Hostname, c.Port, c.PublicHostname));
        Assert.Equal(["10.0.0.1:4719", "[fd00::1]:4719", "backup-a.example:5000"], c.SeedNodes.Select(s => s.ToString()));
        Assert.Equal((Path.Combine(_dir, "cluster-cert.pem"), Path.Combine(_dir, "cluster-key.pem")), (c.Tls.Certificate, c.Tls.Key));
        Assert.Equal(Environment.MachineName, LoadHocon("""
            root-path = /b
            cluster { hostname = "127.0.0.1", seed-nodes = "127.0.0.1:4719", tls { certificate = c.pem, key = k.pem } }
            """).Cluster!.Host);
        // The nodes of a cluster share one journal: each host writes its own ids in it (sync/HOST/NAME).
        var shared = LoadHocon("""
            root-path = /b
            cluster { host = db1, hostname = x, seed-nodes = "h:1", tls { certificate = c.pem, key = k.pem } }
            sync.journal { provider = postgresql, connection-string = "Host=/run/pg" }
            """);
        Assert.Equal(("db1", "Host=/run/pg"), (shared.Cluster!.Host, shared.Sync.PostgresJournal));
    }

    [Theory]
    [InlineData("cluster { hostname = \"127.0.0.1\", seed-nodes = \"127.0.0.1:4719\" }", "cluster.tls needs certificate and key (PEM files, the same pair on every node): a cluster never runs without TLS")]
    [InlineData("cluster { hostname = \"127.0.0.1\", tls { certificate = c.pem, key = k.pem } }", "cluster.seed-nodes is empty")]
    [InlineData("cluster { seed-nodes = \"127.0.0.1:4719\", tls { certificate = c.pem, key = k.pem } }", "cluster.hostname is required")]
    [InlineData("cluster { hostname = x, seed-nodes = \"127.0.0.1\", tls { certificate = c.pem, key = k.pem } }", "cluster.seed-nodes: '127.0.0.1' is not host:port")]
    [InlineData("cluster { hostname = x, seed-nodes = \"a b:1\", tls { certificate = c.pem, key = k.pem } }", "cluster.seed-nodes: 'a b:1' is not host:port")]
    [InlineData("cluster { host = \"a/b\", hostname = x, seed-nodes = \"h:1\", tls { certificate = c.pem, key = k.pem } }", "cluster.host must be a host name")]
    [InlineData("cluster { hostname = x, port = 70000, seed-nodes = \"h:1\", tls { certificate = c.pem, key = k.pem } }", "cluster.port must be a whole number from 1 to 65535")]
    public void A_cluster_block_that_cannot_work_is_one_line(string block, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => LoadHocon("root-path = /b\n" + block));
        Assert.Contains(expected, e.Message);
    }

    private GeneralSettings LoadHocon(string text)
    {
        File.WriteAllText(Path.Combine(_dir, "btw-backup.conf"), text);
        return ConfigLoader.LoadGeneral(_dir);
    }

    [Fact]
    public void Retention_comes_from_the_source_else_the_defaults_in_the_configured_zone()
    {
        Assert.Null(LoadHocon("root-path = /b").RetentionOf("www"));
        var s = LoadHocon("""
            root-path = /b
            defaults.retention { keep-daily = 7, keep-within = 2d }
            retention.timezone = "Europe/Berlin"
            sources {
              www { type = tar, path = /srv/www, dst = www, retention { keep-last = 3 } }
              notes { type = tar, path = /srv/notes, dst = notes }
            }
            """);
        Assert.Equal(new BtwBackup.Retention.RetentionPolicy(KeepLast: 3, TimeZone: s.RetentionZone), s.RetentionOf("www"));
        Assert.Equal(new BtwBackup.Retention.RetentionPolicy(KeepDaily: 7, KeepWithin: TimeSpan.FromDays(2), TimeZone: s.RetentionZone), s.RetentionOf("notes"));
        Assert.Equal(s.RetentionOf("notes"), s.RetentionOf("db/other"));
        Assert.Equal("Europe/Berlin", s.RetentionZone.Id);
        var e = Assert.Throws<ConfigException>(() => LoadHocon("root-path = /b\nretention.timezone = \"Mars/Olympus\""));
        Assert.EndsWith("retention.timezone 'Mars/Olympus' is not a time zone this machine knows (a name such as Europe/Berlin or UTC)", e.Message);
    }

    [Fact]
    public void A_configuration_file_that_is_a_device_is_read_no_further_than_the_size_limit()
    {
        // /dev/zero has no length and no end: read whole, it took gigabytes before the limit applied.
        File.CreateSymbolicLink(Path.Combine(_dir, "btw-backup.conf"), "/dev/zero");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.LoadGeneral(_dir));
        Assert.Equal($"{Path.Combine(_dir, "btw-backup.conf")}: larger than 256 KiB; a btw-backup configuration is a few lines", e.Message);
        File.Delete(Path.Combine(_dir, "btw-backup.conf"));
        File.CreateSymbolicLink(Path.Combine(_dir, "config.py"), "/dev/zero");
        Assert.EndsWith("larger than 256 KiB; a btw-backup configuration is a few lines", Assert.Throws<ConfigException>(() => ConfigLoader.LoadGeneral(_dir)).Message);
    }

    [Fact]
    public void A_db_series_takes_the_retention_of_its_database_settings_file()
    {
        var root = Path.Combine(_dir, "root");
        foreach (var (series, file) in new[] { ("db/shop", "shop.dump"), ("db/g", "global.sql.bz2"), ("db/other", "other.dump"), ("files", "backup.tar") })
        {
            Directory.CreateDirectory(Path.Combine(root, series, "2026-11-01T02:00:00"));
            File.WriteAllText(Path.Combine(root, series, "2026-11-01T02:00:00", file), "x");
        }

        Directory.CreateDirectory(Path.Combine(_dir, "db"));
        File.WriteAllText(Path.Combine(_dir, "db", "shop.conf"), "max-incremental-count = 3\nretention { keep-daily = 14 }\n");
        File.WriteAllText(Path.Combine(_dir, "db", "global.conf"), "retention.keep-monthly = 2\n");
        var s = LoadHocon($"root-path = \"{root}\"\ndefaults.retention.keep-last = 5");
        Assert.Equal(new BtwBackup.Retention.RetentionPolicy(KeepDaily: 14, TimeZone: s.RetentionZone), s.RetentionOf("db/shop"));
        Assert.Equal(new BtwBackup.Retention.RetentionPolicy(KeepMonthly: 2, TimeZone: s.RetentionZone), s.RetentionOf("db/g"));
        Assert.Equal(new BtwBackup.Retention.RetentionPolicy(KeepLast: 5, TimeZone: s.RetentionZone), s.RetentionOf("db/other"));
        Assert.Equal(s.RetentionOf("db/other"), s.RetentionOf("files"));

        File.WriteAllText(Path.Combine(_dir, "db", "shop.conf"), "retention { keep-dayly = 14 }\n");
        var typo = Assert.Throws<ConfigException>(() => s.RetentionOf("db/shop"));
        Assert.EndsWith("retention: unknown setting 'keep-dayly' (did you mean keep-daily?)", typo.Message);
        File.WriteAllText(Path.Combine(_dir, "db", "shop.conf"), "host { name = x }\n");
        var block = Assert.Throws<ConfigException>(() => s.RetentionOf("db/shop"));
        Assert.EndsWith("host must be a value, not a block { }", block.Message);
    }

    [Fact]
    public void Daemon_tls_takes_both_files_relative_to_the_configuration_directory_or_neither()
    {
        Assert.Null(LoadHocon("root-path = /b").Daemon.Tls);
        var tls = LoadHocon("root-path = /b\ndaemon.tls { certificate = \"c.pem\", key = \"/etc/k.pem\" }").Daemon.Tls;
        Assert.Equal(new BtwBackup.Daemon.TlsSettings(Path.Combine(_dir, "c.pem"), "/etc/k.pem"), tls);
        var e = Assert.Throws<ConfigException>(() => LoadHocon("root-path = /b\ndaemon.tls.certificate = \"c.pem\""));
        Assert.Equal($"{Path.Combine(_dir, "btw-backup.conf")}: daemon.tls needs both certificate and key (PEM files), or neither", e.Message);
    }

    [Fact]
    public void The_defaults_are_the_values_written_in_the_reference_file_itself()
    {
        // The reference as a user reads it, parsed here on its own: the program has no other source of defaults.
        var file = Akka.Configuration.ConfigurationFactory.ParseString(
            File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "../../../../../hocon/btw-backup.conf")));
        TimeSpan Span(string key) => Durations.Parse(file.GetString(key));

        var s = LoadHocon("root-path = \"/srv/backups\"");
        Assert.Equal("/srv/backups", s.RootPath);
        Assert.Equal(new SeriesPolicy(file.GetInt("defaults.max-incremental-count"), Span("defaults.max-incremental-span")), s.Defaults);
        Assert.Equal(SeriesPolicy.Default, s.Defaults);
        Assert.Null(s.Defaults.Retention);
        Assert.Equal(Path.Combine(_dir, file.GetString("log-file")), s.LogFile);
        Assert.Equal(file.GetString("log-level"), s.LogLevel);
        Assert.Equal(Span("lock-timeout"), s.LockTimeout);
        Assert.Equal((file.GetInt("sync.parallelism"), Span("sync.history-window"), file.GetInt("sync.snapshot-every"), file.GetInt("sync.max-delete")),
            (s.Sync.Parallelism, s.Sync.HistoryWindow, s.Sync.SnapshotEvery, s.Sync.MaxDelete));
        Assert.Equal((file.GetString("daemon.hostname"), file.GetInt("daemon.port"), file.GetInt("run.parallelism"), file.GetBoolean("retention.after-pass")),
            (s.Daemon.Hostname, s.Daemon.Port, s.PassParallelism, s.PruneAfterPass));
        Assert.Equal(s.Sync, SyncSettings.Default);
        Assert.Equal(s.Daemon, DaemonSettings.Default);
    }

    [Fact]
    public void Reads_every_setting()
    {
        var s = LoadHocon("""
            root-path = "/srv/b/"
            defaults { max-incremental-count = 3, max-incremental-span = 7d }
            log-file = "/var/log/btw.log"
            log-level = debug
            lock-timeout = 0s
            """);
        Assert.Equal("/srv/b", s.RootPath);
        Assert.Equal(new SeriesPolicy(3, TimeSpan.FromDays(7)), s.Defaults);
        Assert.Equal("/var/log/btw.log", s.LogFile);
        Assert.Equal("DEBUG", s.LogLevel);
        Assert.Equal(TimeSpan.Zero, s.LockTimeout);
    }

    [Fact]
    public void Destinations_and_sync_settings()
    {
        var cfg = Path.Combine(_dir, "s3cfg");
        File.WriteAllText(cfg, "[default]\naccess_key = AK\nsecret_key = SK\nhost_base = 127.0.0.1:4568\nuse_https = False\n");
        var s = LoadHocon($$"""
            root-path = /b
            destinations {
              a { uri = "s3://bucket/pre/fix", s3cmd-config = "{{cfg}}" }
              b { uri = "s3://other", endpoint = "https://s3.example.net", region = eu-west-1, access-key = X, secret-key = Y, server-side-encryption = none, payload-signing = always }
            }
            sync { parallelism = 3, history-window = 30d, snapshot-every = 50, max-delete = 0, journal { provider = postgresql, connection-string = "Host=/run/pg;Database=btw" } }
            """);
        Assert.Equal(
        [
            new DestinationSettings("a", "s3://bucket/pre/fix", "pre/fix/", new BtwBackup.ObjectStore.S3Connection("bucket", "http://127.0.0.1:4568", null, "AK", "SK", true)),
            new DestinationSettings("b", "s3://other", "", new BtwBackup.ObjectStore.S3Connection("other", "https://s3.example.net", "eu-west-1", "X", "Y", false) { SignPayload = true }),
        ], s.Destinations);
        Assert.Equal((3, TimeSpan.FromDays(30), 50, "Host=/run/pg;Database=btw"), (s.Sync.Parallelism, s.Sync.HistoryWindow, s.Sync.SnapshotEvery, s.Sync.PostgresJournal));
        Assert.DoesNotContain("SK", s.Destinations[0].ToString());
        Assert.Null(LoadHocon("root-path = /b").Sync.PostgresJournal);
        Assert.Equal((0, 1000), (s.Sync.MaxDelete, LoadHocon("root-path = /b").Sync.MaxDelete));
    }

    [Fact]
    public void An_encrypted_destination_holds_recipients_and_a_secret_key_written_there_is_refused_without_being_repeated()
    {
        var (one, two) = (BtwBackup.Crypto.AgeIdentity.Generate(), BtwBackup.Crypto.AgeIdentity.Generate());
        var d = LoadHocon($$"""
            root-path = /b
            destinations {
              plain { uri = "s3://b/p/" }
              safe { uri = "s3://b/s/", encryption { recipients = "{{one.Recipient}}, {{two.Recipient}},{{one.Recipient}}" } }
            }
            """).Destinations;
        Assert.Null(d.Single(x => x.Name == "plain").Recipients);
        Assert.Equal([one.Recipient, two.Recipient], d.Single(x => x.Name == "safe").Recipients!);

        var e = Assert.Throws<ConfigException>(() => LoadHocon($$"""
            root-path = /b
            destinations { safe { uri = "s3://b/s/", encryption { recipients = "{{one.Secret}}" } } }
            """));
        Assert.EndsWith("destinations.safe.encryption.recipients holds a secret key (AGE-SECRET-KEY-...): remove it from this file and from this host now, and give its recipient (age1...) instead", e.Message);
        Assert.DoesNotContain(one.Secret[16..], e.Message);

        // Anywhere else in the file, a secret key is never quoted back.
        foreach (var misplaced in new[] { one.Secret, $"{one.Secret} = 1", $"destinations {{ safe {{ uri = \"{one.Secret}\" }} }}" })
        {
            var quoted = Assert.Throws<ConfigException>(() => LoadHocon("root-path = /b\n" + misplaced));
            Assert.DoesNotContain(one.Secret[16..], quoted.Message, StringComparison.OrdinalIgnoreCase);
        }

        // Two destinations in different buckets, or beside each other in one, are fine.
        Assert.Equal(2, LoadHocon("root-path = /b\ndestinations {\n a { uri = \"s3://b/p/\" }\n b { uri = \"s3://b/p2/\" }\n}").Destinations.Count);
    }

    [Theory]
    [InlineData("destinations { a { } }", "destinations.a: uri is required")]
    [InlineData("destinations { a { uri = \"http://x\" } }", "not an S3 URI")]
    [InlineData("destinations { a { uri = \"s3://b/\", server-side-encryption = KMS } }", "server-side-encryption must be AES256 or none")]
    [InlineData("destinations { a { uri = \"s3://b/\", payload-signing = never } }", "destinations.a: payload-signing must be auto or always, not 'never'")]
    [InlineData("destinations { a { uri = \"s3://b/\", colour = blue } }", "destinations.a: unknown setting 'colour'")]
    [InlineData("destinations { a { uri = \"s3://b/\", encryption { } } }", "destinations.a.encryption: recipients is required")]
    [InlineData("destinations { a { uri = \"s3://b/\", encryption { recipients = \"age1nope\" } } }", "destinations.a.encryption.recipients: 'age1nope' is not an age recipient")]
    [InlineData("destinations { a { uri = \"s3://b/\", encryption { recipients = \" , \" } } }", "destinations.a.encryption.recipients is empty")]
    [InlineData("destinations { a { uri = \"s3://b/\", encryption { recipient = x } } }", "destinations.a.encryption: unknown setting 'recipient'")]
    [InlineData("destinations {\n a { uri = \"s3://b/p/\" }\n b { uri = \"s3://b/p/q/\" }\n}", "destinations.a and destinations.b overlap in s3://b/p/")]
    [InlineData("destinations {\n a { uri = \"s3://b\" }\n b { uri = \"s3://b/q/\" }\n}", "destinations.a and destinations.b overlap in s3://b/")]
    [InlineData("destinations { a { uri = \"s3://b/p/\", region = \"a b\" } }", "destinations.a: region 'a b' is not an S3 region name")]
    [InlineData("destinations { a { uri = \"s3://b/p/\", region = \"EU-west-1\" } }", "destinations.a: region 'EU-west-1' is not an S3 region name")]
    [InlineData("destinations { a { uri = \"s3://b/p/\", region = \"\" } }", "destinations.a: region '' is not an S3 region name")]
    [InlineData("sync.journal.provider = mysql", "sync.journal.provider must be sqlite or postgresql")]
    [InlineData("sync.journal.provider = postgresql", "sync.journal.connection-string is required")]
    [InlineData("sync.parallelism = 0", "sync.parallelism must be a whole number from 1 to 256, not '0'")]
    [InlineData("run.parallelism = 0", "run.parallelism must be a whole number from 1 to 256, not '0'")]
    [InlineData("sync.max-delete = -1", "sync.max-delete must be a whole number from 0 to 100000000, not '-1'")]
    [InlineData("sync.max-delete = 99999999999", "sync.max-delete must be a whole number from 0 to 100000000, not '99999999999'")]
    [InlineData("sync.max-delete = all", "sync.max-delete must be a whole number from 0 to 100000000, not 'all'")]
    [InlineData("daemon.port = 70000", "daemon.port must be a TCP port")]
    [InlineData("daemon.schedule = \"every night\"", "daemon.schedule must be a cron expression")]
    [InlineData("daemon.schedule = \"61 2 * * *\"", "daemon.schedule must be a cron expression")]
    public void Refuses_bad_destinations_and_sync_settings(string text, string message) =>
        Assert.Contains(message, Assert.Throws<ConfigException>(() => LoadHocon("root-path = /b\n" + text)).Message);

    [Theory]
    [InlineData("", "you must specify root-path in the general configuration")]
    [InlineData("root-path = null", "you must specify root-path in the general configuration")]
    [InlineData("root-path = relative/path", "the root path must be absolute: relative/path")]
    [InlineData("root-path = /a\ndefaults.max-incremental-count = many", "max-incremental-count must be a whole number of 0 or more, not 'many'")]
    [InlineData("root-path = /a\ndefaults.max-incremental-count = -1", "max-incremental-count must be a whole number")]
    [InlineData("root-path = /a\ndefaults.max-incremental-span = soon", "max-incremental-span must be a duration")]
    [InlineData("root-path = /a\nlog-level = LOUD", "log-level must be DEBUG, INFO, WARNING or ERROR")]
    public void Refuses_bad_settings_with_one_clear_line(string text, string message)
    {
        var e = Assert.Throws<ConfigException>(() => LoadHocon(text));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("root-path = \"/a\"\ndefaults {\n  max-incremental-count = 3\n", 2, "never closed")]
    [InlineData("root-path = \"/a\nx = 1", 1, "string is never closed")]
    [InlineData("root-path = \"/a\"\n}\n", 2, "closes nothing")]
    [InlineData("root-path = \"/a\"\nlog-file\n", 2, "after the key 'log-file'")]
    [InlineData("root-path = \"/a\"\n\nlog-file =\n", 3, "has no value")]
    [InlineData("a = [1, 2\nroot-path = \"/a\"\n", 1, "arrays are not supported")]
    public void Names_the_file_and_line_of_malformed_hocon(string text, int line, string message)
    {
        var e = Assert.Throws<ConfigException>(() => LoadHocon(text));
        Assert.StartsWith($"{Path.Combine(_dir, "btw-backup.conf")}:{line}: malformed HOCON: ", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Well_formed_hocon_passes_the_syntax_check()
    {
        var reference = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "../../../../../hocon/btw-backup.conf"));
        Assert.Null(HoconSyntax.Check(reference));
        Assert.Null(HoconSyntax.Check("a { b = 1, d: \"x\\\"y\" }\ne.f = 24 hours // c\ng = s3 bucket\n\"h.i\" { j = null }\n"));
    }

    [Fact]
    public void Reads_a_legacy_config_py_when_there_is_no_hocon_file()
    {
        File.WriteAllText(Path.Combine(_dir, "config.py"), "ROOT_PATH = \"/var/backups\"\nS3_URI_PREFIX = 's3://b/p/'\n");
        var s = ConfigLoader.LoadGeneral(_dir);
        Assert.Equal("/var/backups", s.RootPath);
        Assert.Equal(Path.Combine(_dir, "config.py"), s.LoadedFrom);
    }

    [Fact]
    public void Prefers_hocon_over_legacy()
    {
        File.WriteAllText(Path.Combine(_dir, "config.py"), "ROOT_PATH = \"/legacy\"\n");
        Assert.Equal("/hocon", LoadHocon("root-path = /hocon").RootPath);
    }

    [Fact]
    public void Legacy_without_root_path_gives_the_original_message()
    {
        File.WriteAllText(Path.Combine(_dir, "config.py"), "S3_URI_PREFIX = 's3://b/p/'\n");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.LoadGeneral(_dir));
        Assert.Equal("you must specify ROOT_PATH in the general configuration", e.Message);
    }

    [Fact]
    public void No_configuration_at_all_says_what_to_create()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.LoadGeneral(_dir));
        Assert.Contains("btw-backup.conf", e.Message);
        Assert.Contains("root-path", e.Message);
    }

    [Fact]
    public void Source_settings_from_source_conf_or_legacy_config_py()
    {
        var hocon = Directory.CreateDirectory(Path.Combine(_dir, "www.abc")).FullName;
        File.WriteAllText(Path.Combine(hocon, "source.conf"), "type = rdiff\nmax-incremental-span = 90m\n");
        Assert.Equal((SourceType.Rdiff, new SeriesPolicy(10, TimeSpan.FromMinutes(90))), ConfigLoader.LoadSource(hocon, SeriesPolicy.Default));

        var legacy = Directory.CreateDirectory(Path.Combine(_dir, "old.xyz")).FullName;
        File.WriteAllText(Path.Combine(legacy, "config.py"), "TYPE=\"rdiff\"\nMAX_INCREMENTAL_COUNT=1\nMAX_INCREMENTAL_SPAN=\"0s\"\n");
        Assert.Equal((SourceType.Rdiff, new SeriesPolicy(1, TimeSpan.Zero)), ConfigLoader.LoadSource(legacy, SeriesPolicy.Default));

        File.WriteAllText(Path.Combine(legacy, "config.py"), "TYPE=\"zip\"\n");
        Assert.Equal("unknown backup type: zip", Assert.Throws<ConfigException>(() => ConfigLoader.LoadSource(legacy, SeriesPolicy.Default)).Message);
        File.WriteAllText(Path.Combine(legacy, "config.py"), "MAX_INCREMENTAL_COUNT='x'\nTYPE='tar'\n");
        Assert.Contains("MAX_INCREMENTAL_COUNT", Assert.Throws<ConfigException>(() => ConfigLoader.LoadSource(legacy, SeriesPolicy.Default)).Message);
    }

    [Fact]
    public void Source_file_written_by_fs_init_reads_back()
    {
        foreach (var type in new[] { SourceType.Rdiff, SourceType.Tar })
        {
            var dir = Directory.CreateDirectory(Path.Combine(_dir, "s" + type)).FullName;
            var policy = new SeriesPolicy(4, TimeSpan.FromDays(2));
            File.WriteAllText(Path.Combine(dir, "source.conf"), ConfigLoader.SourceFileText(type, policy));
            var (readType, readPolicy) = ConfigLoader.LoadSource(dir, SeriesPolicy.Default);
            Assert.Equal(type, readType);
            Assert.Equal(type == SourceType.Rdiff ? policy : SeriesPolicy.Default, readPolicy);
        }
    }

    [Fact]
    public void Database_policy_from_conf_or_py_or_defaults()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "db"));
        Assert.Equal(SeriesPolicy.Default, ConfigLoader.LoadDatabase(_dir, "shop", SeriesPolicy.Default).Policy);
        File.WriteAllText(Path.Combine(_dir, "db", "shop.py"), "MAX_INCREMENTAL_COUNT = 0\n");
        Assert.Equal(new SeriesPolicy(0, TimeSpan.FromHours(24)), ConfigLoader.LoadDatabase(_dir, "shop", SeriesPolicy.Default).Policy);
        File.WriteAllText(Path.Combine(_dir, "db", "shop.conf"), "max-incremental-span = 0s\n");
        Assert.Equal(new SeriesPolicy(10, TimeSpan.Zero), ConfigLoader.LoadDatabase(_dir, "shop", SeriesPolicy.Default).Policy);
    }
}

public sealed class SourcesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-sources-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private GeneralSettings Load(string sources)
    {
        File.WriteAllText(Path.Combine(_dir, "btw-backup.conf"), "root-path = /b\ndefaults.max-incremental-count = 4\nsources {\n" + sources + "\n}\n");
        return ConfigLoader.LoadGeneral(_dir);
    }

    [Fact]
    public void Reads_every_type_with_defaults_and_overrides()
    {
        var s = Load("""
              www { type = rdiff, path = "/srv/www", dst = www, max-incremental-span = 7d }
              up { type = tar, path = "/srv/up", dst = "files/up" }
              shop { type = pg-dump, database = shop, dst = "db/shop", host = "/run/pg", port = 5433, user = backup }
              globals { type = pg-globals, dst = "db/global" }
            """);
        Assert.Equal(
        [
            new DatabaseSource("globals", "db/global", new DatabaseTarget(null, PgConnection.Default, new SeriesPolicy(4, TimeSpan.FromHours(24)))),
            new DatabaseSource("shop", "db/shop", new DatabaseTarget("shop", new PgConnection("/run/pg", 5433, "backup"), new SeriesPolicy(4, TimeSpan.FromHours(24)))),
            new TreeSource("up", "files/up", "/srv/up", SourceType.Tar, new SeriesPolicy(4, TimeSpan.FromHours(24))),
            new TreeSource("www", "www", "/srv/www", SourceType.Rdiff, new SeriesPolicy(4, TimeSpan.FromDays(7))),
        ], s.Sources);
        Assert.Equal(new PgConnection("/run/pg", 5433, "backup"), s.Database("shop").Connection);
        Assert.Null(s.Database(null).Database);
        Assert.Equal(PgConnection.Default, s.Database("other").Connection);
    }

    [Fact]
    public void No_sources_by_default() => Assert.Empty(Load("").Sources);

    [Theory]
    [InlineData("a { dst = x }", "sources.a: type is required")]
    [InlineData("a { type = rdiff, path = /s }", "sources.a: dst is required")]
    [InlineData("a { type = rdiff, dst = x }", "sources.a: path is required")]
    [InlineData("a { type = rdiff, dst = x, path = rel }", "sources.a: path must be absolute")]
    [InlineData("a { type = tar, dst = /abs, path = /s }", "sources.a: dst cannot be an absolute path")]
    [InlineData("a { type = zip, dst = x }", "sources.a: unknown type 'zip'")]
    [InlineData("a { type = pg-dump, dst = x }", "sources.a: database is required")]
    [InlineData("a { type = pg-dump, dst = x, database = global }", "cannot be used as a database name")]
    [InlineData("a { type = pg-dump, dst = x, database = d, password = s3cret }", "a password does not belong in the configuration")]
    [InlineData("a { type = pg-dump, dst = x, database = d, port = many }", "port must be a port number")]
    [InlineData("a { type = tar, dst = x, path = /s, host = h }", "unknown setting 'host' for a tar source")]
    [InlineData("a { type = pg-globals, dst = x, database = d }", "a pg-globals source has no database")]
    [InlineData("a { type = pg-dump, dst = x, database = d }\nb { type = pg-dump, dst = y, database = d }", "sources a and b back up the same database d")]
    [InlineData("a { type = tar, dst = x, path = /s }\nb { type = rdiff, dst = y, path = /s }", "sources a and b back up the same path /s")]
    public void Refuses_bad_sources_with_one_line(string sources, string message)
    {
        var e = Assert.Throws<ConfigException>(() => Load(sources));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain("s3cret", e.Message);
    }
}
