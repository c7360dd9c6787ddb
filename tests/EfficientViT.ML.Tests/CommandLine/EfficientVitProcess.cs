using System.Diagnostics;

namespace EfficientViT.ML.Tests.CommandLine;

/// <summary>Runs the built <c>efficientvit</c> command line as a user does: a process of its own.</summary>
internal static class EfficientVitProcess
{
    public static (int ExitCode, string[] Errors, string Output) Run(IReadOnlyDictionary<string, string?> environment, params string[] arguments)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var executable = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "Training", "bin", configuration, "net10.0", "efficientvit.dll"));
        Assert.True(File.Exists(executable), $"{executable} was not built");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(executable);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "efficientvit did not finish");
        return (process.ExitCode, stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries), stdout.Result);
    }

    public static (int ExitCode, string[] Errors, string Output) Run(params string[] arguments) =>
        Run(new Dictionary<string, string?>(), arguments);
}
