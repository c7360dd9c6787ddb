using System.Runtime.InteropServices;

namespace EfficientViT.ML.Tests.NativeLoading;

public class OpenMpWaitPolicyTests
{
    // The library's module initializer has run once any of its types is used; the C environment (what
    // libgomp reads) then holds the passive policy, unless the user set one of the two variables.
    [Fact]
    public void The_c_environment_holds_the_passive_policy_unless_the_user_chose_one()
    {
        if (!OperatingSystem.IsLinux())
            return;
        OpenMpWaitPolicy.SetDefault();
        var chosen = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? Environment.GetEnvironmentVariable("GOMP_SPINCOUNT");
        var seen = Marshal.PtrToStringAnsi(getenv("OMP_WAIT_POLICY"));
        if (chosen is null)
            Assert.Equal("PASSIVE", seen);
        else
            Assert.Equal(Environment.GetEnvironmentVariable("OMP_WAIT_POLICY"), seen);
    }

    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern IntPtr getenv(string name);
}
