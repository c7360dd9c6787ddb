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
        var (code, stdout, stderr) = ChildProgram.Run("the probe", ChildProgram.Built("tests/LibTorchProbe", "LibTorchProbe"), [], TimeSpan.FromMinutes(2),
            environment.Select(v => KeyValuePair.Create(v.Name, (string?)v.Value)));
        return (code, stdout + stderr);
    }
}
