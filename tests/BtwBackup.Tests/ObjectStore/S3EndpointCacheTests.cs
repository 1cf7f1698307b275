using System.Collections;
using Amazon.Runtime.Endpoints;
using Amazon.S3;
using Amazon.S3.Endpoints;
using BtwBackup.ObjectStore;
using Xunit;

namespace BtwBackup.Tests.ObjectStore;

/// <summary>
/// The endpoint rules evaluated once per set of parameters give what the SDK's rules give for
/// every request, whatever the object's key: checked against the SDK's own provider over a grid of
/// endpoints, regions, bucket names and options, including the sets the rules refuse.
/// </summary>
public sealed class S3EndpointCacheTests
{
    private static readonly string?[] Endpoints = [null, "http://127.0.0.1:9000", "https://s3.example.net:8443/"];
    private static readonly string[] Regions = ["us-east-1", "eu-west-3"];
    private static readonly string[] Buckets = ["bench", "my.dotted.bucket", "Bad_Bucket"];
    private static readonly string[] Keys = ["a", "d1/f 2", "..%2F\n", ""];

    private static IEndpointProvider Rules() => new AmazonS3Config().EndpointProvider;

    private static IEnumerable<S3EndpointParameters> Grid(string key, string? prefix = null, string? copySource = null) =>
        from endpoint in Endpoints
        from region in Regions
        from bucket in Buckets
        from pathStyle in new[] { false, true }
        from fips in new[] { false, true }
        from dualStack in new[] { false, true }
        select Parameters(bucket, region, endpoint, pathStyle, fips, dualStack, key, prefix, copySource);

    /// <summary>The parameters that differ between the operations of one client, and the required ones.</summary>
    private static readonly string[] Flags =
    [
        "UseObjectLambdaEndpoint", "DisableAccessPoints", "UseS3ExpressControlEndpoint", "DisableS3ExpressSessionAuth",
        "Accelerate", "UseGlobalEndpoint", "DisableMultiRegionAccessPoints", "UseArnRegion",
    ];

    /// <summary>
    /// Each flag null, true and false, on a plain bucket, a directory bucket, an access point of
    /// another region, and no bucket; with no endpoint, an empty one, a custom one.
    /// </summary>
    private static IEnumerable<S3EndpointParameters> Operations() =>
        from endpoint in new[] { null, "", "http://127.0.0.1:9000" }
        from bucket in new[] { "bench", "b--use1-az4--x-s3", "arn:aws:s3:us-west-2:123456789012:accesspoint/ap", null }
        from flag in Flags
        from value in new bool?[] { null, true, false }
        select With(Parameters(bucket, endpoint: endpoint, pathStyle: false), flag, value);

    private static S3EndpointParameters With(S3EndpointParameters parameters, string property, object? value)
    {
        typeof(S3EndpointParameters).GetProperty(property)!.SetValue(parameters, value);
        return parameters;
    }

    private static S3EndpointParameters Parameters(string? bucket, string region = "us-east-1", string? endpoint = null, bool pathStyle = true,
        bool fips = false, bool dualStack = false, string? key = "k", string? prefix = null, string? copySource = null) => new()
    {
        Bucket = bucket,
        Region = region,
        Endpoint = endpoint,
        ForcePathStyle = pathStyle,
        UseFIPS = fips,
        UseDualStack = dualStack,
        Accelerate = false,
        UseGlobalEndpoint = false,
        DisableMultiRegionAccessPoints = false,
        Key = key,
        Prefix = prefix,
        CopySource = copySource,
    };

    /// <summary>What a request takes from an answer: the URL, the authentication schemes, the headers; or the refusal.</summary>
    private static string Describe(Func<Endpoint> resolve)
    {
        Endpoint endpoint;
        try
        {
            endpoint = resolve();
        }
        catch (Exception e)
        {
            return $"refused: {e.GetType().Name}: {e.Message}";
        }

        var lines = new List<string> { endpoint.URL };
        if (endpoint.Attributes?["authSchemes"] is IList schemes)
        {
            foreach (PropertyBag scheme in schemes)
                lines.Add(string.Join(" ", new[] { "name", "signingName", "signingRegion", "disableDoubleEncoding" }.Select(n => $"{n}={scheme[n]}")));
        }

        lines.Add($"backend={endpoint.Attributes?["backend"]}");
        foreach (var (name, values) in endpoint.Headers ?? new Dictionary<string, IList<string>>())
            lines.Add($"{name}: {string.Join(",", values)}");
        return string.Join("\n", lines);
    }

    [Fact]
    public void Answers_as_the_rules_do_for_every_set_of_parameters_and_any_key()
    {
        var rules = Rules();
        var cache = new S3EndpointCache(Rules());
        var compared = 0;
        var refused = 0;
        foreach (var key in Keys)
        {
            foreach (var parameters in Grid(key))
            {
                var expected = Describe(() => rules.ResolveEndpoint(parameters));
                Assert.Equal(expected, Describe(() => cache.ResolveEndpoint(parameters)));
                compared++;
                refused += expected.StartsWith("refused:", StringComparison.Ordinal) ? 1 : 0;
            }
        }

        // The grid holds both kinds: answers and refusals (FIPS or dual-stack with a custom endpoint).
        Assert.Equal(Keys.Length * 144, compared);
        Assert.InRange(refused, 1, compared - 1);
    }

    /// <summary>Both grids, and what the rules answer each set.</summary>
    private static (List<S3EndpointParameters> Sets, List<string> Expected) EverySet()
    {
        var rules = Rules();
        var sets = Grid("k").Concat(Operations()).ToList();
        return (sets, sets.Select(p => Describe(() => rules.ResolveEndpoint(p))).ToList());
    }

    /// <summary>
    /// Every set answered from a cache large enough to keep them all, twice over and in between
    /// each other, as the rules answer it: a parameter left out of what an answer is kept by, or
    /// two values written alike, hands one set another's answer. Each flag changes some answer.
    /// </summary>
    [Fact]
    public void Every_parameter_that_the_rules_read_tells_answers_apart()
    {
        var (sets, expected) = EverySet();
        var cache = new S3EndpointCache(Rules(), capacity: 10_000);
        for (var pass = 0; pass < 2; pass++)
        {
            for (var i = 0; i < sets.Count; i++)
                Assert.Equal(expected[i], Describe(() => cache.ResolveEndpoint(sets[i])));
        }

        var rules = Rules();
        var operations = Operations().ToList();
        foreach (var flag in Flags)
        {
            var answers = operations.Select((p, i) => (p, i)).Where(x => x.i / 3 % Flags.Length == Array.IndexOf(Flags, flag))
                .GroupBy(x => x.i / 3, x => Describe(() => rules.ResolveEndpoint(x.p)));
            Assert.True(answers.Any(g => g.Distinct().Count() > 1), $"{flag} changes no answer of the grid");
        }
    }

    [Fact]
    public void Sets_answered_at_once_from_many_threads_get_their_own_answers()
    {
        var (sets, expected) = EverySet();
        var cache = new S3EndpointCache(Rules(), capacity: 10_000);
        var wrong = 0;
        Parallel.For(0, sets.Count * 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, n =>
        {
            var i = n * 7919 % sets.Count;
            if (Describe(() => cache.ResolveEndpoint(sets[i])) != expected[i])
                Interlocked.Increment(ref wrong);
        });
        Assert.Equal(0, wrong);
    }

    /// <summary>
    /// Two sets whose strings hold what the other writes on its following lines: written without
    /// their line ends escaped, both would make one text, and the second would get the answer kept
    /// for the first (a path-style URL) instead of its own refusal (an endpoint that is no URL).
    /// </summary>
    [Fact]
    public void Values_that_hold_line_ends_are_told_apart()
    {
        const string endpoint = "http://127.0.0.1:9000";
        const string between = "\nDisableAccessPoints=-\nDisableMultiRegionAccessPoints=b:0\nDisableS3ExpressSessionAuth=-\nEndpoint=s:";
        var first = Parameters("x" + between + endpoint, endpoint: endpoint);
        var second = Parameters("x", endpoint: endpoint + between + endpoint);
        var rules = Rules();
        var cache = new S3EndpointCache(Rules());
        var expectedFirst = Describe(() => rules.ResolveEndpoint(first));
        var expectedSecond = Describe(() => rules.ResolveEndpoint(second));
        Assert.StartsWith(endpoint + "/x", expectedFirst, StringComparison.Ordinal);
        Assert.StartsWith("refused:", expectedSecond, StringComparison.Ordinal);
        Assert.Equal(expectedFirst, Describe(() => cache.ResolveEndpoint(first)));
        Assert.Equal(expectedSecond, Describe(() => cache.ResolveEndpoint(second)));
    }

    /// <summary>
    /// The cache stands on what the decompiled rules of this version of the SDK read: a new version
    /// has its rules checked again (do they read the key, the prefix or a copy's source? does a
    /// parameter take a list?) before this version is changed here.
    /// </summary>
    [Fact]
    public void The_rules_were_checked_for_this_version_of_the_sdk()
    {
        var version = System.Diagnostics.FileVersionInfo.GetVersionInfo(typeof(AmazonS3Config).Assembly.Location).FileVersion;
        Assert.True(version == "4.1.0.0",
            $"AWSSDK.S3 is now {version}: check that its endpoint rules (Amazon.S3.Internal.AmazonS3EndpointProvider) still never read Key, Prefix or CopySource and take no list, then update this version");
    }

    /// <summary>What the cache stands on: this SDK's rules never read the key, the prefix or a copy's source.</summary>
    [Fact]
    public void The_rules_answer_the_same_whatever_the_key_the_prefix_and_the_copy_source()
    {
        var rules = Rules();
        var plain = Grid("k").Select(p => Describe(() => rules.ResolveEndpoint(p))).ToList();
        var other = Grid("other/key with spaces", prefix: "some/prefix/", copySource: "bucket2/src").Select(p => Describe(() => rules.ResolveEndpoint(p))).ToList();
        Assert.Equal(plain, other);
        Assert.Contains(plain, d => d.StartsWith("http://127.0.0.1:9000/bench", StringComparison.Ordinal));
    }

    [Fact]
    public void Each_request_gets_an_endpoint_of_its_own()
    {
        var cache = new S3EndpointCache(Rules());
        var parameters = Parameters("bench", endpoint: "http://127.0.0.1:9000");
        var first = cache.ResolveEndpoint(parameters);
        Assert.Equal("http://127.0.0.1:9000/bench", first.URL);

        // What the SDK does to the endpoint of a request without a path, to the first answer and to a kept one.
        first.URL += "/";
        var second = cache.ResolveEndpoint(parameters);
        Assert.NotSame(first, second);
        Assert.Equal("http://127.0.0.1:9000/bench", second.URL);
        second.URL += "/";
        var third = cache.ResolveEndpoint(parameters);
        Assert.NotSame(second, third);
        Assert.Equal("http://127.0.0.1:9000/bench", third.URL);
    }

    [Fact]
    public void The_rules_run_once_per_set_of_parameters_and_again_for_any_other()
    {
        var rules = new Counting(Rules());
        var cache = new S3EndpointCache(rules);
        foreach (var key in Keys)
            cache.ResolveEndpoint(Parameters("bench", key: key, prefix: key));
        Assert.Equal(1, rules.Calls);

        cache.ResolveEndpoint(Parameters("bench2"));
        cache.ResolveEndpoint(Parameters("bench", pathStyle: false));
        cache.ResolveEndpoint(Parameters("bench", region: "eu-west-3"));
        cache.ResolveEndpoint(Parameters("bench", endpoint: "http://127.0.0.1:9001"));
        cache.ResolveEndpoint(new S3EndpointParameters
        {
            Bucket = "bench", Region = "us-east-1", UseFIPS = false, UseDualStack = false, ForcePathStyle = true, Accelerate = false,
            UseGlobalEndpoint = false, DisableMultiRegionAccessPoints = false, UseArnRegion = true,
        });
        Assert.Equal(6, rules.Calls);
        cache.ResolveEndpoint(Parameters("bench2", key: "another"));
        Assert.Equal(6, rules.Calls);
    }

    [Fact]
    public void A_refusal_is_not_kept()
    {
        var rules = new Counting(Rules()) { FailFirst = true };
        var cache = new S3EndpointCache(rules);
        var parameters = Parameters("bench", endpoint: "http://127.0.0.1:9000");
        Assert.Throws<InvalidOperationException>(() => cache.ResolveEndpoint(parameters));
        Assert.Equal("http://127.0.0.1:9000/bench", cache.ResolveEndpoint(parameters).URL);
        Assert.Equal(2, rules.Calls);
    }

    [Fact]
    public void Beyond_its_capacity_it_answers_from_the_rules()
    {
        var rules = new Counting(Rules());
        var cache = new S3EndpointCache(rules);
        for (var i = 0; i < S3EndpointCache.Capacity + 6; i++)
            Assert.Equal($"http://127.0.0.1:9000/b{i}", cache.ResolveEndpoint(Parameters($"b{i}", endpoint: "http://127.0.0.1:9000")).URL);
        Assert.Equal(S3EndpointCache.Capacity + 6, rules.Calls);

        // The first ones are kept, the last ones are not.
        cache.ResolveEndpoint(Parameters("b0", endpoint: "http://127.0.0.1:9000"));
        Assert.Equal(S3EndpointCache.Capacity + 6, rules.Calls);
        Assert.Equal($"http://127.0.0.1:9000/b{S3EndpointCache.Capacity + 5}",
            cache.ResolveEndpoint(Parameters($"b{S3EndpointCache.Capacity + 5}", endpoint: "http://127.0.0.1:9000")).URL);
        Assert.Equal(S3EndpointCache.Capacity + 7, rules.Calls);
    }

    private sealed class Counting(IEndpointProvider rules) : IEndpointProvider
    {
        public int Calls { get; private set; }

        public bool FailFirst { get; init; }

        public Endpoint ResolveEndpoint(EndpointParameters parameters)
        {
            Calls++;
            if (FailFirst && Calls == 1)
                throw new InvalidOperationException("the rules failed once");
            return rules.ResolveEndpoint(parameters);
        }
    }
}
