using System.Diagnostics;

namespace EfficientViT.Benchmarks;

/// <summary>A measuring child process run to its end: the benchmarks that compare sides run each in a process of its own.</summary>
internal static class ChildProcess
{
    /// <summary>Runs <paramref name="start"/> to its end and returns its standard output's lines; throws with its errors when it fails.</summary>
    public static IReadOnlyList<string> Output(ProcessStartInfo start)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
        var error = process.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        while (process.StandardOutput.ReadLine() is { } line)
            lines.Add(line);
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{start.FileName} {string.Join(' ', start.ArgumentList)} exited with {process.ExitCode}: {error.Result}");
        return lines;
    }
}
