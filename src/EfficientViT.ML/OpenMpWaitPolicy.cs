using System.Runtime.InteropServices;

namespace EfficientViT.ML;

/// <summary>
/// Makes libtorch's OpenMP threads wait passively (sleep at once instead of spinning) unless the user chose
/// a policy, by setting <c>OMP_WAIT_POLICY=PASSIVE</c> in the process environment before libtorch (and its
/// libgomp, which reads the variable once, when it loads) is loaded.
/// </summary>
/// <remarks>
/// A training step is thousands of small parallel operations, each ending at a barrier. With the default
/// (spinning) policy, on a machine whose cores are also busy with other work, a thread spins on a core
/// while the thread it waits for is not running: on a 2-core machine shared with other builds, M0 training
/// at 64x64 on two threads ran at 7-9 images/s against 226-262 with the passive policy, in the same run.
/// .NET's <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not change the C library's
/// environment that libgomp reads, so libc's <c>setenv</c> is called.
/// </remarks>
internal static class OpenMpWaitPolicy
{
    /// <summary>Sets the passive policy where neither <c>OMP_WAIT_POLICY</c> nor <c>GOMP_SPINCOUNT</c> is set (Linux).</summary>
    public static void SetDefault()
    {
        if (!OperatingSystem.IsLinux())
            return;
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null || Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is not null)
            return;
        // overwrite = 0: a value set meanwhile by native code is kept.
        _ = setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    }

    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);
}
