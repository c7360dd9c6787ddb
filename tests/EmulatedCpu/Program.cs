// Two checks for scripts/int8-without-vnni.sh, run under the emulator before the tests (and the first for
// scripts/avx2-only.sh, run with this CPU's AVX-512 and VNNI hidden):
//   cpu      prints the instruction sets behind ONNX Runtime's int8 kernels on x64 as the CPU reports them
//            (CPUID, which ONNX Runtime reads too) and as .NET sees them; exits 0 only for an AVX2 CPU without
//            AVX-512, AVX-VNNI, AVX-512 VNNI or AMX, on which ONNX Runtime multiplies uint8 by int8 with AVX2's
//            vpmaddubsw.
//   signals  collects garbage 200 times while another thread spins in a loop without calls, which the runtime
//            can only stop by sending it a signal; the runtime's handler saves the FPU state with fxsave, which
//            needs the 16-byte stack alignment the ABI promises at a handler's entry. QEMU 7.2 (Debian 12's)
//            enters x86-64 signal handlers 8 bytes off it: this check crashes there every time, the tests now
//            and then (whenever a collection catches a thread running managed code). QEMU 10 aligns them.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using System.Text;

return args is ["signals"] ? Signals() : args is ["cpu"] ? Cpu() : Usage();

static int Usage()
{
    Console.Error.WriteLine("usage: EmulatedCpu cpu|signals");
    return 2;
}

static int Signals()
{
    var state = new SpinState();
    var spinner = new Thread(() => Spin(state));
    spinner.Start();
    while (Volatile.Read(ref state.Spinning) == 0)
        Thread.Yield();
    var clock = Stopwatch.StartNew();
    const int collections = 200;
    for (var i = 0; i < collections; i++)
        GC.Collect();
    Volatile.Write(ref state.Stop, 1);
    spinner.Join();
    Console.WriteLine($"{collections} collections stopped a spinning thread in {clock.ElapsedMilliseconds} ms: signal handlers run as .NET needs");
    return 0;
}

// Optimized from the start (no tiering, whose first code calls out of loops), so the loop makes no call: a
// collection can stop this thread only by sending it a signal.
[MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
static long Spin(SpinState state)
{
    Volatile.Write(ref state.Spinning, 1);
    long n = 0;
    while (Volatile.Read(ref state.Stop) == 0)
        n++;
    return n;
}

static int Cpu()
{
    if (!X86Base.IsSupported)
    {
        Console.WriteLine("not an x86 CPU");
        return 1;
    }

    var brand = new StringBuilder();
    if ((uint)X86Base.CpuId(unchecked((int)0x80000000), 0).Eax >= 0x80000004)
        for (var leaf = 0x80000002; leaf <= 0x80000004; leaf++)
        {
            var (a, b, c, d) = X86Base.CpuId(unchecked((int)leaf), 0);
            foreach (var register in new[] { a, b, c, d })
                brand.Append(Encoding.ASCII.GetString(BitConverter.GetBytes(register)));
        }
    var maxLeaf = X86Base.CpuId(0, 0).Eax;
    var (leaf7MaxSubleaf, leaf7Ebx, leaf7Ecx, leaf7Edx) = maxLeaf >= 7 ? X86Base.CpuId(7, 0) : (0, 0, 0, 0);
    var leaf7Sub1Eax = leaf7MaxSubleaf >= 1 ? X86Base.CpuId(7, 1).Eax : 0;

    var features = new (string Name, bool Present, bool Wanted)[]
    {
        ("AVX2", Bit(leaf7Ebx, 5), true),
        ("AVX-512F", Bit(leaf7Ebx, 16), false),
        ("AVX-512BW", Bit(leaf7Ebx, 30), false),
        ("AVX-512 VNNI", Bit(leaf7Ecx, 11), false),
        ("AVX-VNNI", Bit(leaf7Sub1Eax, 4), false),
        ("AMX-INT8", Bit(leaf7Edx, 25), false),
    };
    Console.WriteLine($"CPU: {brand.ToString().Trim('\0', ' ')}");
    Console.WriteLine("CPUID: " + string.Join(", ", features.Select(f => $"{f.Name} {(f.Present ? "yes" : "no")}")));
    Console.WriteLine($".NET: Avx2.IsSupported {Avx2.IsSupported}, Avx512F.IsSupported {Avx512F.IsSupported}, " +
                      $"Avx512BW.IsSupported {Avx512BW.IsSupported}, AvxVnni.IsSupported {AvxVnni.IsSupported}");

    var wrong = features.Where(f => f.Present != f.Wanted).Select(f => f.Present ? $"has {f.Name}" : $"lacks {f.Name}").ToList();
    if (!Avx2.IsSupported)
        wrong.Add(".NET does not see AVX2");
    if (Avx512F.IsSupported)
        wrong.Add(".NET sees AVX-512");
    if (AvxVnni.IsSupported)
        wrong.Add(".NET sees AVX-VNNI");
    if (wrong.Count > 0)
    {
        Console.WriteLine($"not an AVX2 CPU without VNNI: {string.Join(", ", wrong)}");
        return 1;
    }
    Console.WriteLine("an AVX2 CPU without VNNI: ONNX Runtime multiplies uint8 by int8 with vpmaddubsw, in saturating 16-bit pairs");
    return 0;
}

static bool Bit(int register, int bit) => (register >> bit & 1) != 0;

internal sealed class SpinState
{
    public int Spinning;
    public int Stop;
}
