namespace EfficientViT.ML.Tests.CommandLine;

// The command line starts itself over under tcmalloc (installed by scripts/setup.sh), keeping every
// argument as given, and keeps the C library's malloc when asked to.
public class TcmallocRestartTests
{
    private static string MachineLine(string output) =>
        Assert.Single(output.Split('\n'), line => line.StartsWith("machine: ", StringComparison.Ordinal));

    private static (int ExitCode, string[] Errors, string Output) Bench(Dictionary<string, string?> environment) =>
        EfficientVitProcess.Run(environment, "bench", "--no-training", "--seconds", "0.02", "--threads", "1");

    [Fact]
    public void The_command_line_runs_under_tcmalloc_unless_told_to_keep_the_system_malloc()
    {
        Assert.True(NativeAllocator.FindTcmalloc() is not null,
            $"tcmalloc is not installed at any of {string.Join(", ", NativeAllocator.TcmallocPaths)}: run scripts/setup.sh");
        // This test process was not started over: it has the C library's malloc, so the child's tcmalloc is its own doing.
        Assert.Equal("glibc", NativeAllocator.Current());

        var preloaded = Bench(new() { ["EFFICIENTVIT_MALLOC"] = null, ["EFFICIENTVIT_MALLOC_RESTARTED"] = null, ["LD_PRELOAD"] = null });
        Assert.True(preloaded.ExitCode == 0, string.Join("\n", preloaded.Errors) + preloaded.Output);
        Assert.EndsWith("malloc: tcmalloc", MachineLine(preloaded.Output));
        Assert.DoesNotContain(preloaded.Errors, line => line.Contains("tcmalloc", StringComparison.Ordinal));

        var system = Bench(new() { ["EFFICIENTVIT_MALLOC"] = "system", ["EFFICIENTVIT_MALLOC_RESTARTED"] = null, ["LD_PRELOAD"] = null });
        Assert.True(system.ExitCode == 0, string.Join("\n", system.Errors) + system.Output);
        Assert.EndsWith("malloc: glibc", MachineLine(system.Output));
    }

    [Fact]
    public void Arguments_reach_the_restarted_process_unchanged()
    {
        // Spaces and non-ASCII letters, in a value the error message repeats verbatim.
        var data = Path.Combine(Path.GetTempPath(), "no such folder ü ☃", "");
        var (exitCode, errors, output) = EfficientVitProcess.Run(new Dictionary<string, string?> { ["EFFICIENTVIT_MALLOC"] = null },
            "train", "--data", data + "x y", "--output", Path.Combine(Path.GetTempPath(), "unused run ü"));

        Assert.True(exitCode == 1, $"exit code {exitCode}: {string.Join("\n", errors)}{output}");
        Assert.Contains(data + "x y", Assert.Single(errors));
    }
}
