using System.Diagnostics;

namespace EfficientViT.ML.Tests.Onnx;

/// <summary>
/// Runs the reference ONNX checker, <c>onnx.checker.check_model(..., full_check=True)</c>, from Debian's
/// python3-onnx package, so that tests can prove an exported model is valid ONNX and not merely something
/// ONNX Runtime happens to accept. full_check also runs strict shape and type inference over the graph.
/// </summary>
internal static class OnnxChecker
{
    public const string Python = "/usr/bin/python3";

    private const string CheckScript =
        "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)";

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>Runs the checker on a model file; exit code 0 means valid, otherwise the error is the checker's message.</summary>
    public static (int ExitCode, string Error) Check(string modelPath)
    {
        var (exitCode, _, stderr) = RunPython(CheckScript, modelPath);
        return (exitCode, stderr);
    }

    /// <summary>Fails the test, with the checker's message, unless the model file is valid ONNX.</summary>
    public static void AssertValid(string modelPath)
    {
        var (exitCode, error) = Check(modelPath);
        if (exitCode != 0)
            Assert.Fail($"onnx.checker rejected {modelPath} (exit code {exitCode}):{Environment.NewLine}{error}");
    }

    /// <summary>
    /// Runs a Python snippet with <see cref="Python"/> (<c>sys.argv[1:]</c> are <paramref name="args"/>). Fails the
    /// test when Python or its onnx module is missing, so that "the checker rejected it" always means the checker ran.
    /// </summary>
    public static (int ExitCode, string StdOut, string StdErr) RunPython(string script, params string[] args)
    {
        if (!File.Exists(Python))
            Assert.Fail($"{Python} is missing: install Debian's python3-onnx (the setup script does).");

        var startInfo = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add(script);
        foreach (string arg in args)
            startInfo.ArgumentList.Add(arg);

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"Could not start {Python}.");
        // Read both pipes concurrently: a child blocked on a full stderr pipe would never exit.
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{Python} did not finish within {Timeout.TotalSeconds} s.");
        }
        process.WaitForExit(); // lets the pipe readers finish
        string error = stderr.GetAwaiter().GetResult();
        if (error.Contains("No module named 'onnx'", StringComparison.Ordinal))
            Assert.Fail($"Python's onnx module is missing: install Debian's python3-onnx (the setup script does).{Environment.NewLine}{error}");
        return (process.ExitCode, stdout.GetAwaiter().GetResult(), error);
    }
}
