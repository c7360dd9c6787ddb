using System.Diagnostics;
using System.Security.Cryptography;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Checkpoints.Pretrained;

namespace EfficientViT.ML.Tests.Checkpoints.Pretrained;

/// <summary>
/// Downloads of pretrained weights against a loopback server: the real download, verification and cache code, with
/// the official M0 fixture (made with the official code, random weights) standing in for the released file.
/// </summary>
public sealed class PretrainedDownloadTests : IDisposable
{
    private static readonly byte[] Weights = File.ReadAllBytes(TestFiles.OfficialM0("efficientvit_m0.pth"));
    private static readonly string WeightsSha256 = Convert.ToHexStringLower(SHA256.HashData(Weights));
    private static readonly PretrainedModel M0 = EfficientVitPretrained.Find("m0")!;

    private readonly CacheFolder cache = new();

    public void Dispose() => cache.Dispose();

    // Each failure: one line naming the weights, the URL and the problem, and the cache as it was.
    private PretrainedWeightsException AssertFailsCleanly(Func<string> resolve, Uri url, string problem)
    {
        var before = cache.Snapshot();
        var error = Assert.Throws<PretrainedWeightsException>(() => resolve());
        Assert.DoesNotContain('\n', error.Message);
        Assert.StartsWith($"m0 ({url})", error.Message);
        Assert.True(error.Message.Contains(problem, StringComparison.Ordinal), $"'{problem}' not in: {error.Message}");
        Assert.Equal(before, cache.Snapshot());
        return error;
    }

    [Fact]
    public void The_first_use_downloads_verifies_and_records_the_hash_and_the_second_makes_no_request()
    {
        using var server = new LoopbackServer(path => path == "/efficientvit_m0.pth" ? Reply.Ok(Weights) : Reply.NotFound());
        var progress = new RecordingProgress();
        var path = EfficientVitPretrained.Resolve("m0", cache.Options(server, progress));

        Assert.Equal(cache.File("efficientvit_m0.pth"), path);
        Assert.Equal(Weights, File.ReadAllBytes(path));
        Assert.Equal($"{WeightsSha256}  efficientvit_m0.pth\n", File.ReadAllText(path + ".sha256"));
        Assert.Equal(["efficientvit_m0.pth", "efficientvit_m0.pth.sha256"], cache.Snapshot()!.Keys);
        Assert.Equal(["/efficientvit_m0.pth"], server.Requests);
        Assert.Equal(0, progress.Reports[0].BytesReceived);
        Assert.Equal(Weights.Length, progress.Reports[0].TotalBytes);
        Assert.True(progress.Reports[^1].Completed);
        Assert.Equal(Weights.Length, progress.Reports[^1].BytesReceived);

        // Names are case-insensitive and the official file name is an alias.
        Assert.Equal(path, EfficientVitPretrained.Resolve("M0", cache.Options(server)));
        Assert.Equal(path, EfficientVitPretrained.Resolve("efficientvit_m0", cache.Options(server)));
        Assert.Single(server.Requests);
        using var loaded = EfficientVitPretrained.Load("m0", options: cache.Options(server));
        Assert.Equal("M0", loaded.Metadata.Variant);
        Assert.Single(server.Requests);
    }

    [Fact]
    public void A_cached_file_that_no_longer_matches_its_recorded_hash_is_refused_and_left_as_it_is()
    {
        using var server = new LoopbackServer(_ => Reply.Ok(Weights));
        var path = EfficientVitPretrained.Resolve("m0", cache.Options(server));
        using (var stream = new FileStream(path, FileMode.Open))
        {
            stream.Position = 1000;
            stream.WriteByte((byte)~Weights[1000]);
        }
        var before = cache.Snapshot();
        var error = Assert.Throws<PretrainedWeightsException>(() => EfficientVitPretrained.Resolve("m0", cache.Options(server)));
        Assert.Contains($"but {path}.sha256 recorded {WeightsSha256}; delete it to download it again", error.Message);
        Assert.Equal(before, cache.Snapshot());
        Assert.Single(server.Requests);
    }

    [Fact]
    public void Not_found_is_reported_with_the_status()
    {
        using var server = new LoopbackServer(_ => Reply.NotFound());
        AssertFailsCleanly(() => EfficientVitPretrained.Resolve("m0", cache.Options(server)), server.Url("efficientvit_m0.pth"), "HTTP 404 NotFound");
    }

    [Fact]
    public void A_truncated_body_is_not_used()
    {
        using var server = new LoopbackServer(_ => new Reply(200, Weights, SendBytes: Weights.Length / 2));
        AssertFailsCleanly(() => EfficientVitPretrained.Resolve("m0", cache.Options(server)), server.Url("efficientvit_m0.pth"),
            $"truncated: the connection ended after {Weights.Length / 2:N0} of {Weights.Length:N0} bytes");
    }

    [Fact]
    public void A_size_other_than_the_pinned_one_is_refused()
    {
        using var server = new LoopbackServer(_ => Reply.Ok(Weights));
        var pinned = M0 with { Size = Weights.Length + 1 };
        AssertFailsCleanly(() => EfficientVitPretrained.Resolve(pinned, cache.Options(server)), server.Url("efficientvit_m0.pth"),
            $"wrong size: the server announces {Weights.Length:N0} bytes, expected {Weights.Length + 1:N0}");

        // A server that announces the pinned size but sends more is cut off at that size.
        using var longer = new LoopbackServer(_ => new Reply(200, [.. Weights, 0], ContentLength: Weights.Length));
        var exact = M0 with { Size = Weights.Length - 1 };
        Assert.Throws<PretrainedWeightsException>(() => EfficientVitPretrained.Resolve(exact, cache.Options(longer)));
        Assert.Null(cache.Snapshot());
    }

    [Fact]
    public void A_pinned_sha256_that_differs_is_refused()
    {
        using var server = new LoopbackServer(_ => Reply.Ok(Weights));
        var pinned = M0 with { Sha256 = new string('0', 64) };
        AssertFailsCleanly(() => EfficientVitPretrained.Resolve(pinned, cache.Options(server)), server.Url("efficientvit_m0.pth"),
            $"SHA-256 mismatch: the download has {WeightsSha256}, expected {new string('0', 64)}");

        // The right pin passes.
        Assert.Equal(Weights, File.ReadAllBytes(EfficientVitPretrained.Resolve(M0 with { Sha256 = WeightsSha256.ToUpperInvariant() }, cache.Options(server))));
    }

    [Fact]
    public void A_file_that_is_not_the_named_model_fails_the_strict_load()
    {
        using var server = new LoopbackServer(_ => Reply.Ok(Weights));
        var m4 = EfficientVitPretrained.Find("m4")!;
        var before = cache.Snapshot();
        var error = Assert.Throws<PretrainedWeightsException>(() => EfficientVitPretrained.Resolve(m4, cache.Options(server)));
        Assert.StartsWith($"m4 ({server.Url("efficientvit_m4.pth")}): not the expected checkpoint:", error.Message);
        Assert.Contains("not the requested M4", error.Message);
        Assert.Equal(before, cache.Snapshot());
    }

    [Fact]
    public void A_stalled_server_times_out_with_a_clear_error()
    {
        using var server = new LoopbackServer(_ => new Reply(200, Weights, StallAfter: 100_000));
        var watch = Stopwatch.StartNew();
        AssertFailsCleanly(() => EfficientVitPretrained.Resolve("m0", cache.Options(server) with { Timeout = TimeSpan.FromSeconds(1) }),
            server.Url("efficientvit_m0.pth"), "timed out: no data for 1 s after 100,000 bytes");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"the timeout took {watch.Elapsed}");
    }

    [Fact]
    public void A_server_that_never_answers_times_out()
    {
        using var server = new LoopbackServer(_ => new Reply(200, Weights, StallAfter: 0, BeforeBody: () => Task.Delay(Timeout.Infinite)));
        AssertFailsCleanly(() => EfficientVitPretrained.Resolve("m0", cache.Options(server) with { Timeout = TimeSpan.FromSeconds(1) }),
            server.Url("efficientvit_m0.pth"), "timed out: no data for 1 s after 0 bytes");
    }

    [Fact]
    public void Redirects_are_followed()
    {
        // A relative Location, then an absolute one, as GitHub's release downloads answer.
        LoopbackServer? self = null;
        using var server = self = new LoopbackServer(path => path switch
        {
            "/efficientvit_m0.pth" => Reply.Redirect("/releases/1"),
            "/releases/1" => Reply.Redirect(self!.Url("objects/m0").AbsoluteUri),
            "/objects/m0" => Reply.Ok(Weights),
            _ => Reply.NotFound(),
        });
        var path = EfficientVitPretrained.Resolve("m0", cache.Options(server));
        Assert.Equal(Weights, File.ReadAllBytes(path));
        Assert.Equal(["/efficientvit_m0.pth", "/releases/1", "/objects/m0"], server.Requests);
    }

    [Fact]
    public void Redirects_are_bounded()
    {
        using var server = new LoopbackServer(path => Reply.Redirect(path + "x"));
        AssertFailsCleanly(() => EfficientVitPretrained.Resolve("m0", cache.Options(server) with { MaxRedirects = 3 }), server.Url("efficientvit_m0.pth"),
            "more than 3 redirects (the last to " + server.Url("efficientvit_m0.pthxxxx") + ")");
        Assert.Equal(4, server.Requests.Count);
    }

    [Fact]
    public void Offline_uses_the_cached_file_and_never_the_network()
    {
        using var server = new LoopbackServer(_ => Reply.Ok(Weights));
        var offline = cache.Options(server) with { Offline = true };
        var error = AssertFailsCleanly(() => EfficientVitPretrained.Resolve("m0", offline), server.Url("efficientvit_m0.pth"),
            $"not in the cache ({cache.File("efficientvit_m0.pth")}) and EFFICIENTVIT_OFFLINE=1 forbids downloading it");
        Assert.Empty(server.Requests);

        var path = EfficientVitPretrained.Resolve("m0", cache.Options(server));
        Assert.Single(server.Requests);
        Assert.Equal(path, EfficientVitPretrained.Resolve("m0", offline));
        Assert.Single(server.Requests);
    }

    [Fact]
    public void A_file_copied_into_the_cache_by_hand_is_checked_then_recorded()
    {
        Directory.CreateDirectory(cache.Path);
        File.WriteAllBytes(cache.File("efficientvit_m0.pth"), Weights);
        var path = EfficientVitPretrained.Resolve("m0", cache.Options() with { Offline = true });
        Assert.Equal($"{WeightsSha256}  efficientvit_m0.pth\n", File.ReadAllText(path + ".sha256"));

        // A file copied by hand that is not the named model is refused, and not recorded.
        File.Copy(cache.File("efficientvit_m0.pth"), cache.File("efficientvit_m1.pth"));
        var error = Assert.Throws<PretrainedWeightsException>(() => EfficientVitPretrained.Resolve("m1", cache.Options() with { Offline = true }));
        Assert.Contains("not the requested M1", error.Message);
        Assert.False(File.Exists(cache.File("efficientvit_m1.pth.sha256")));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_read_only_cache_folder_fails_before_any_request_and_still_serves_what_it_holds()
    {
        using var server = new LoopbackServer(_ => Reply.Ok(Weights));
        Directory.CreateDirectory(cache.Path);
        using (ReadOnlyFolder.Make(cache.Path))
        {
            AssertFailsCleanly(() => EfficientVitPretrained.Resolve("m0", cache.Options(server)), server.Url("efficientvit_m0.pth"),
                $"cannot write to the cache folder {cache.Path}");
            Assert.Empty(server.Requests);
        }

        var path = EfficientVitPretrained.Resolve("m0", cache.Options(server));
        using (ReadOnlyFolder.Make(cache.Path))
            Assert.Equal(path, EfficientVitPretrained.Resolve("m0", cache.Options(server)));
        Assert.Single(server.Requests);
    }

    [Fact]
    public void A_value_that_is_neither_a_file_nor_a_name_lists_the_names()
    {
        var error = Assert.Throws<PretrainedWeightsException>(() => EfficientVitPretrained.Resolve("m9", cache.Options()));
        Assert.Equal("m9: neither a file nor a pretrained name; the names are m0, m1, m2, m3, m4, m5, " +
            "efficientvit_m0.r224_in1k, efficientvit_m1.r224_in1k, efficientvit_m2.r224_in1k, efficientvit_m3.r224_in1k, efficientvit_m4.r224_in1k, efficientvit_m5.r224_in1k",
            error.Message);
        Assert.Null(cache.Snapshot());

        // A path is returned as it is, for the loader to open (or to report missing in its own words).
        Assert.Equal("runs/best/model.safetensors", EfficientVitPretrained.Resolve("runs/best/model.safetensors", cache.Options()));
        Assert.Throws<CheckpointException>(() => EfficientVitPretrained.Load("missing.pth", options: cache.Options()));
    }

    [Fact]
    public void The_mirror_and_timm_names_map_to_the_cache_file_names()
    {
        var options = new PretrainedWeightsOptions { MirrorUrl = new Uri("https://mirror.example/efficientvit/") };
        Assert.Equal("https://mirror.example/efficientvit/efficientvit_m4.pth", options.UrlOf(EfficientVitPretrained.Find("m4")!).AbsoluteUri);
        var timm = EfficientVitPretrained.Find("timm/efficientvit_m4.r224_in1k")!;
        Assert.Equal("efficientvit_m4.r224_in1k", timm.Name);
        Assert.Equal(CheckpointFormat.TimmSafeTensors, timm.Format);
        Assert.Equal("https://mirror.example/efficientvit/efficientvit_m4.r224_in1k.safetensors", options.UrlOf(timm).AbsoluteUri);
        Assert.Equal("https://huggingface.co/timm/efficientvit_m4.r224_in1k/resolve/main/model.safetensors", new PretrainedWeightsOptions().UrlOf(timm).AbsoluteUri);
    }
}
