/*
 * Preloaded into a process (LD_PRELOAD) by scripts/avx2-only.sh: the process and everything it loads see
 * this CPU without AVX-512, VNNI and AMX, as on an AMD Zen 3, so that .NET, libtorch and ONNX Runtime
 * choose the kernels they choose there, and run them at this machine's native speed.
 *
 * Programs learn what the CPU offers from the CPUID instruction, which no library call stands between.
 * Linux lets a process make CPUID fault instead (arch_prctl ARCH_SET_CPUID, where the CPU or hypervisor
 * offers "CPUID faulting": /proc/cpuinfo flag cpuid_fault); the fault arrives as SIGSEGV, and the handler
 * below runs the real CPUID with faulting briefly off, clears the features' bits, and steps over the
 * instruction. Faulting is a property of the thread, inherited by the threads it creates; exec clears it
 * and the preload sets it again in the new program.
 *
 * .NET (and others) install their own SIGSEGV handlers to turn faults into exceptions. So that theirs
 * never replaces this one, sigaction() and signal() for SIGSEGV only record what the program asked for,
 * and every SIGSEGV that is not a faulting CPUID is passed on to it.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define BIT(n) (1u << (n))

/* CPUID leaf 7, subleaf 0 */
static const unsigned hidden_7_0_ebx = BIT(16) /* AVX512F */ | BIT(17) /* AVX512DQ */ | BIT(21) /* AVX512IFMA */
    | BIT(26) /* AVX512PF */ | BIT(27) /* AVX512ER */ | BIT(28) /* AVX512CD */ | BIT(30) /* AVX512BW */ | BIT(31) /* AVX512VL */;
static const unsigned hidden_7_0_ecx = BIT(1) /* AVX512VBMI */ | BIT(6) /* AVX512VBMI2 */ | BIT(11) /* AVX512VNNI */
    | BIT(12) /* AVX512BITALG */ | BIT(14) /* AVX512VPOPCNTDQ */;
static const unsigned hidden_7_0_edx = BIT(2) /* AVX512_4VNNIW */ | BIT(3) /* AVX512_4FMAPS */ | BIT(8) /* AVX512_VP2INTERSECT */
    | BIT(22) /* AMX-BF16 */ | BIT(23) /* AVX512_FP16 */ | BIT(24) /* AMX-TILE */ | BIT(25) /* AMX-INT8 */;
/* CPUID leaf 7, subleaf 1 */
static const unsigned hidden_7_1_eax = BIT(4) /* AVX-VNNI */ | BIT(5) /* AVX512_BF16 */ | BIT(23) /* AVX-IFMA */;
static const unsigned hidden_7_1_edx = BIT(4) /* AVX-VNNI-INT8 */ | BIT(5) /* AVX-NE-CONVERT */ | BIT(10) /* AVX-VNNI-INT16 */
    | BIT(19) /* AVX10 */;

typedef int (*sigaction_function)(int, const struct sigaction *, struct sigaction *);
static sigaction_function real_sigaction;
static struct sigaction program_action; /* the program's own SIGSEGV handler, called for every other fault */

static void set_cpuid_faulting(int on)
{
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1);
}

static void pass_on(int signal_number, siginfo_t *info, void *context)
{
    if (program_action.sa_flags & SA_SIGINFO) {
        program_action.sa_sigaction(signal_number, info, context);
    } else if (program_action.sa_handler == SIG_DFL) {
        /* Returning re-runs the faulting instruction, which now ends the process as it would have. */
        struct sigaction default_action;
        memset(&default_action, 0, sizeof default_action);
        default_action.sa_handler = SIG_DFL;
        real_sigaction(SIGSEGV, &default_action, NULL);
    } else if (program_action.sa_handler != SIG_IGN) {
        program_action.sa_handler(signal_number);
    }
}

static void on_segmentation_fault(int signal_number, siginfo_t *info, void *context)
{
    greg_t *registers = ((ucontext_t *)context)->uc_mcontext.gregs;
    const unsigned char *instruction = (const unsigned char *)registers[REG_RIP];
    /* A faulting CPUID is a general-protection fault (SI_KERNEL) on the two bytes 0F A2. */
    if (info->si_code != SI_KERNEL || instruction[0] != 0x0f || instruction[1] != 0xa2) {
        pass_on(signal_number, info, context);
        return;
    }
    unsigned leaf = (unsigned)registers[REG_RAX], subleaf = (unsigned)registers[REG_RCX];
    unsigned eax, ebx, ecx, edx;
    set_cpuid_faulting(0);
    __cpuid_count(leaf, subleaf, eax, ebx, ecx, edx);
    set_cpuid_faulting(1);
    if (leaf == 7 && subleaf == 0) {
        ebx &= ~hidden_7_0_ebx;
        ecx &= ~hidden_7_0_ecx;
        edx &= ~hidden_7_0_edx;
    } else if (leaf == 7 && subleaf == 1) {
        eax &= ~hidden_7_1_eax;
        edx &= ~hidden_7_1_edx;
    }
    registers[REG_RAX] = eax;
    registers[REG_RBX] = ebx;
    registers[REG_RCX] = ecx;
    registers[REG_RDX] = edx;
    registers[REG_RIP] += 2;
}

int sigaction(int signal_number, const struct sigaction *action, struct sigaction *previous)
{
    if (!real_sigaction)
        real_sigaction = (sigaction_function)dlsym(RTLD_NEXT, "sigaction");
    if (signal_number != SIGSEGV)
        return real_sigaction(signal_number, action, previous);
    if (previous)
        *previous = program_action;
    if (action)
        program_action = *action;
    return 0;
}

sighandler_t signal(int signal_number, sighandler_t handler)
{
    struct sigaction action, previous;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    action.sa_flags = SA_RESTART;
    if (sigaction(signal_number, &action, &previous) != 0)
        return SIG_ERR;
    return previous.sa_handler;
}

__attribute__((constructor)) static void hide_features(void)
{
    real_sigaction = (sigaction_function)dlsym(RTLD_NEXT, "sigaction");
    program_action.sa_handler = SIG_DFL;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_segmentation_fault;
    /* SA_NODEFER: the program's handler, called from this one, must not find SIGSEGV blocked while it runs.
       SA_ONSTACK: run where the program's handler expects to, on the thread's alternate stack if it has one. */
    action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    real_sigaction(SIGSEGV, &action, NULL);
    set_cpuid_faulting(1);
}
