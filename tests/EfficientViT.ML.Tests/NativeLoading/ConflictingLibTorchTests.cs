using System.Diagnostics;
using System.Runtime.InteropServices;

namespace EfficientViT.ML.Tests.NativeLoading;

/// <summary>
/// Another libtorch on the loader's path (Fixtures/conflicting-libtorch, made by its script) must not be
/// taken in place of the one TorchSharp was built for. Runs tests/LibTorchProbe in a child process,
/// since a process binds libtorch once.
/// </summary>
public class ConflictingLibTorchTests
{
    private static readonly string ConflictingFolder = TestFiles.Fixture("conflicting-libtorch");

    [Fact]
    public void The_library_loads_its_own_libtorch_when_another_comes_first_on_the_path()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return; // the fixture libraries are Linux x64 builds; the preload is Linux x64 only

        // Without the preload, the process binds the conflicting libraries: the fixture really conflicts.
        var (code, output) = RunProbe(("LD_LIBRARY_PATH", ConflictingFolder), ("EFFICIENTVIT_NO_LIBTORCH_PRELOAD", "1"));
        Assert.NotEqual(0, code);
        Assert.Contains("libLibTorchSharp.so", output);

        (code, output) = RunProbe(("LD_LIBRARY_PATH", ConflictingFolder));
        Assert.True(code == 0, output);
        Assert.Equal("features: 192", output.Trim());
    }

    private static (int Code, string Output) RunProbe(params (string Name, string Value)[] environment)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var probe = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "LibTorchProbe", "bin", configuration, "net10.0", "LibTorchProbe.dll"));
        Assert.True(File.Exists(probe), $"{probe} was not built");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(probe);
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "the probe did not finish");
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
