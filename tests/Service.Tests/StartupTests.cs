using System.Diagnostics;
using EfficientViT.Service.LoadTest;

namespace EfficientViT.Service.Tests;

/// <summary>A model file that cannot be used stops start-up with one line naming it and a non-zero exit code.</summary>
public class StartupTests
{
    [Fact]
    public void A_missing_model_file_stops_start_up()
    {
        using var folder = new TemporaryFolder();
        var missing = Path.Combine(folder.Path, "no-such-model.zip");
        var (exitCode, stderr) = RunService("--model", missing);
        Assert.Equal(2, exitCode);
        Assert.Equal($"error: model file '{missing}' not found (pass --model PATH; 'efficientvit demo', run by scripts/demo.sh, writes runs/demo/fashion-mnist-efficientvit-m0.zip).", Assert.Single(stderr));
    }

    [Fact]
    public void A_corrupt_model_file_stops_start_up()
    {
        using var folder = new TemporaryFolder();
        var corrupt = Path.Combine(folder.Path, "corrupt.zip");
        File.WriteAllBytes(corrupt, [.. "PK\u0003\u0004 not really a zip"u8]);
        var (exitCode, stderr) = RunService("--model", corrupt);
        Assert.Equal(2, exitCode);
        var line = Assert.Single(stderr);
        Assert.StartsWith($"error: model file '{corrupt}' is not an ML.NET model zip that can be loaded: ", line);
    }

    [Fact]
    public void An_unknown_scoring_mode_stops_start_up()
    {
        var (exitCode, stderr) = RunService("--model", "unused.zip", "--scoring", "fastest");
        Assert.Equal(2, exitCode);
        Assert.Equal("error: --scoring fastest: expected 'engines' or 'batched'.", Assert.Single(stderr));
    }

    private static (int ExitCode, List<string> Stderr) RunService(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "EfficientViT.Service.dll"));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add("http://127.0.0.1:0");
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the service did not stop; stdout: {stdout.Result}");
        }
        return (process.ExitCode, stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList());
    }
}
