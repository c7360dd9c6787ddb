using System.Diagnostics;
using EfficientViT.ML.Checkpoints.Pretrained;
using EfficientViT.ML.Tests.CommandLine;

namespace EfficientViT.ML.Tests.Checkpoints.Pretrained;

/// <summary>
/// Downloads by separate <c>efficientvit</c> processes, configured as a user would through the environment
/// (EFFICIENTVIT_HOME, EFFICIENTVIT_WEIGHTS_URL): two at once, and one killed in the middle.
/// </summary>
public sealed class DownloadProcessTests : IDisposable
{
    private static readonly byte[] Weights = File.ReadAllBytes(TestFiles.OfficialM0("efficientvit_m0.pth"));

    private readonly CacheFolder cache = new();

    public void Dispose() => cache.Dispose();

    private Dictionary<string, string?> Environment(LoopbackServer server) => new()
    {
        [PretrainedWeightsOptions.HomeVariable] = cache.Path,
        [PretrainedWeightsOptions.MirrorVariable] = server.BaseUrl.AbsoluteUri,
        [PretrainedWeightsOptions.OfflineVariable] = null,
        [PretrainedWeightsOptions.TimeoutVariable] = "30",
    };

    [Fact]
    public void Two_processes_downloading_at_once_end_with_one_good_copy()
    {
        // Neither gets its body before both have asked: the two downloads overlap for certain.
        using var bothAsked = new CountdownEvent(2);
        using var server = new LoopbackServer(_ =>
        {
            bothAsked.Signal();
            return new Reply(200, Weights, BeforeBody: () => Task.Run(() => bothAsked.Wait(TimeSpan.FromMinutes(2))));
        });
        var environment = Environment(server);
        var runs = new[] { 0, 1 }.AsParallel().Select(_ => EfficientVitProcess.Run(environment, "weights", "download", "m0")).ToArray();

        foreach (var (exitCode, errors, output) in runs)
        {
            Assert.True(exitCode == 0, string.Join('\n', errors));
            Assert.Equal($"m0: {cache.File("efficientvit_m0.pth")}", output.Trim());
        }
        Assert.Equal(2, server.Requests.Count);
        Assert.Equal(["efficientvit_m0.pth", "efficientvit_m0.pth.sha256"], cache.Snapshot()!.Keys);
        Assert.Equal(Weights, File.ReadAllBytes(cache.File("efficientvit_m0.pth")));
    }

    [Fact]
    public void A_partial_file_of_a_killed_download_is_never_used_and_is_removed_by_the_next_download()
    {
        var stall = true;
        using var server = new LoopbackServer(_ => stall ? new Reply(200, Weights, StallAfter: Weights.Length / 2) : Reply.Ok(Weights));
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { ChildProgram.Built("src/Training", "efficientvit"), "weights", "download", "m0" })
            start.ArgumentList.Add(argument);
        foreach (var (name, value) in Environment(server))
            start.Environment[name] = value;
        using (var process = Process.Start(start)!)
        {
            var deadline = Stopwatch.StartNew();
            while (PartialFiles().FirstOrDefault(f => new FileInfo(f).Length >= Weights.Length / 2) is null)
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(2) && !process.HasExited, "the download did not start");
                Thread.Sleep(100);
            }
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        Assert.Single(PartialFiles());
        Assert.False(File.Exists(cache.File("efficientvit_m0.pth")));

        // Offline, the partial file is not taken for the weights.
        var offline = Assert.Throws<PretrainedWeightsException>(() => EfficientVitPretrained.Resolve("m0", cache.Options(server) with { Offline = true }));
        Assert.Contains("not in the cache", offline.Message);

        stall = false;
        var path = EfficientVitPretrained.Resolve("m0", cache.Options(server));
        Assert.Equal(Weights, File.ReadAllBytes(path));
        Assert.Empty(PartialFiles());
        Assert.Equal(2, server.Requests.Count);
    }

    private string[] PartialFiles() => Directory.Exists(cache.Path) ? Directory.GetFiles(cache.Path, "*.partial") : [];
}
