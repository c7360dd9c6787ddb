using System.Diagnostics;

namespace EfficientViT.ML.Tests;

/// <summary>
/// A program of this repository, built beside the tests in the same configuration, run as a child <c>dotnet</c>
/// process: what a process binds once (libtorch, a malloc) or loads on its own (a saved model) is tested there.
/// </summary>
internal static class ChildProgram
{
    /// <summary>The repository's root: the tests run from tests/EfficientViT.ML.Tests/bin/&lt;configuration&gt;/net10.0.</summary>
    public static string RepositoryRoot => Path.GetFullPath(Path.Combine(TestFiles.OutputFolder, "..", "..", "..", "..", ".."));

    /// <summary>The built assembly of the project in <paramref name="projectFolder"/> (from the repository root); asserted to exist.</summary>
    public static string Built(string projectFolder, string assemblyName)
    {
        var configuration = new DirectoryInfo(TestFiles.OutputFolder).Parent!.Name;
        var path = Path.Combine(RepositoryRoot, projectFolder, "bin", configuration, "net10.0", assemblyName + ".dll");
        Assert.True(File.Exists(path), $"{path} was not built");
        return path;
    }

    /// <summary>
    /// Runs <paramref name="assembly"/> with <paramref name="arguments"/> and waits for it, failing the test (naming
    /// <paramref name="name"/>) after <paramref name="timeout"/>. An <paramref name="environment"/> value of null removes the variable.
    /// </summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string name, string assembly, IEnumerable<string> arguments, TimeSpan timeout,
        IEnumerable<KeyValuePair<string, string?>>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(assembly);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (variable, value) in environment ?? [])
            start.Environment[variable] = value;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        Assert.True(process.WaitForExit(timeout), $"{name} did not finish");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
