using System.Buffers.Binary;
using System.Text;
using static TorchSharp.torch;

namespace EfficientViT.ML.Checkpoints;

/// <summary>
/// A restricted unpickler for the <c>data.pkl</c> entry of a <c>torch.save</c> zip checkpoint (pickle protocols 2–5).
/// </summary>
/// <remarks>
/// <para>
/// Python's pickle format is a small stack machine whose GLOBAL/REDUCE opcodes can import and call any Python
/// function, so a malicious checkpoint can run code when loaded by a normal unpickler. This reader never calls
/// anything: it understands only the opcodes that PyTorch writes for state dicts, and it resolves only an
/// allow-list of globals (<c>collections.OrderedDict</c>, the two tensor rebuild functions and the typed storage
/// classes) to inert C# markers. Every other global and every other opcode is refused with a
/// <see cref="CheckpointException"/>.
/// </para>
/// <para>
/// Tensors are not materialized here: <c>_rebuild_tensor_v2</c> yields a <see cref="PickledTensor"/> that describes
/// the storage, offset, size and stride. The caller turns the descriptors it needs into TorchSharp tensors once it
/// knows their state-dict keys, so shape/storage errors can name the key, and nothing is allocated for parts of the
/// checkpoint (optimizer state, say) that are not returned.
/// </para>
/// <para>Python values map to: None → null, bool → <see cref="bool"/>, int → <see cref="long"/>,
/// float → <see cref="double"/>, str → <see cref="string"/>, tuple → <see cref="PickleTuple"/>,
/// list → <see cref="List{T}"/> of object, dict/OrderedDict → <see cref="PickleDict"/>.</para>
/// </remarks>
internal sealed class PickleReader
{
    /// <summary>The deepest nesting of tuples accepted; PyTorch writes at most a few levels (a size inside an argument tuple).</summary>
    public const int MaxTupleNesting = 100;

    /// <summary>The most elements (nested ones included) a tuple used as a dictionary key may have; comparing keys costs this much.</summary>
    public const int MaxKeyTupleElements = 10_000;

    /// <summary>The memory every pickle may build its objects in, whatever its size.</summary>
    public const long BaseBudgetBytes = 64L << 20;

    /// <summary>Further memory for each byte of the pickle: a real state dict needs about 14, so 16 never refuses one.</summary>
    public const int BudgetBytesPerPickleByte = 16;

    // Rough sizes, rounded up, of what each opcode allocates on a 64-bit runtime. They are charged against the
    // budget and never refunded, so a pickle's objects, stack, marks and memo together stay below it.
    private const int StackSlotCost = 16; // a reference in a List that grows by doubling
    private const int MarkCost = 8;
    private const int BoxCost = 24; // a boxed long, double or bool
    private const int StringCost = 32; // plus two bytes per character
    private const int DictCost = 128;
    private const int DictEntryCost = 64;
    private const int ListCost = 48;
    private const int ListElementCost = 16;
    private const int TupleCost = 64; // plus 8 bytes per item
    private const int MemoEntryCost = 64;
    private const int MarkerCost = 128; // a global, storage or tensor descriptor

    private readonly byte[] data;
    private readonly string filePath;
    private readonly long budget;
    private long charged;
    private readonly List<object?> stack = new();
    // Stack heights saved by MARK; kept apart from the value stack so a mark can never be mistaken for a value.
    private readonly Stack<int> marks = new();
    private readonly Dictionary<long, object?> memo = new();
    private int pos;
    // Where the current opcode starts, for error messages.
    private int opPos;

    private PickleReader(byte[] data, string filePath, long budget)
    {
        this.data = data;
        this.filePath = filePath;
        this.budget = budget;
    }

    /// <summary>The memory a pickle of <paramref name="pickleBytes"/> bytes may build its objects in.</summary>
    public static long BudgetFor(long pickleBytes) => BaseBudgetBytes + BudgetBytesPerPickleByte * pickleBytes;

    /// <summary>Unpickles <paramref name="data"/> (the bytes of data.pkl) and returns the top-level object.</summary>
    /// <param name="data">The pickle bytes.</param>
    /// <param name="filePath">The checkpoint file, used in error messages.</param>
    /// <param name="budgetBytes">The memory its objects may take; <see cref="BudgetFor"/> its size when not given.</param>
    /// <exception cref="CheckpointException">The pickle is malformed, truncated, uses anything outside the allow-list,
    /// nests tuples too deeply, or builds more objects than its budget allows.</exception>
    public static object? Load(byte[] data, string filePath, long? budgetBytes = null) =>
        new PickleReader(data, filePath, budgetBytes ?? BudgetFor(data.Length)).Run();

    private object? Run()
    {
        while (true)
        {
            int opPos = this.opPos = pos;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    {
                        byte version = ReadByte();
                        if (version < 2 || version > 5)
                            throw Error($"pickle protocol {version} is not supported (PyTorch writes protocols 2 to 5)");
                        break;
                    }
                case 0x95: // FRAME: only a hint for buffered readers; the framed opcodes simply follow.
                    ReadBytes(8);
                    break;
                case (byte)'.': // STOP
                    return Pop("STOP");
                case (byte)'(': // MARK
                    Charge(MarkCost);
                    marks.Push(stack.Count);
                    break;
                case (byte)'}': // EMPTY_DICT
                    Push(new PickleDict(), DictCost);
                    break;
                case (byte)']': // EMPTY_LIST
                    Push(new List<object?>(), ListCost);
                    break;
                case (byte)')': // EMPTY_TUPLE
                    Push(NewTuple(Array.Empty<object?>()), TupleCost);
                    break;
                case (byte)'t': // TUPLE
                    PushTuple(PopToMark("TUPLE").ToArray());
                    break;
                case 0x85: // TUPLE1
                    PushTuple(PopN(1, "TUPLE1"));
                    break;
                case 0x86: // TUPLE2
                    PushTuple(PopN(2, "TUPLE2"));
                    break;
                case 0x87: // TUPLE3
                    PushTuple(PopN(3, "TUPLE3"));
                    break;
                case (byte)'d': // DICT
                    {
                        var dict = new PickleDict();
                        SetItems(dict, PopToMark("DICT"), opPos);
                        Push(dict, DictCost);
                        break;
                    }
                case (byte)'l': // LIST
                    List<object?> list = PopToMark("LIST");
                    Push(list, ListCost + ListElementCost * (long)list.Count);
                    break;
                case (byte)'a': // APPEND
                    {
                        object? value = Pop("APPEND");
                        Charge(ListElementCost);
                        PeekAs<List<object?>>("APPEND").Add(value);
                        break;
                    }
                case (byte)'e': // APPENDS
                    {
                        List<object?> items = PopToMark("APPENDS");
                        Charge(ListElementCost * (long)items.Count);
                        PeekAs<List<object?>>("APPENDS").AddRange(items);
                        break;
                    }
                case (byte)'s': // SETITEM
                    {
                        object? value = Pop("SETITEM");
                        object? key = Pop("SETITEM");
                        Charge(DictEntryCost);
                        PeekAs<PickleDict>("SETITEM").Set(CheckKey(key, opPos), value);
                        break;
                    }
                case (byte)'u': // SETITEMS
                    {
                        List<object?> items = PopToMark("SETITEMS");
                        SetItems(PeekAs<PickleDict>("SETITEMS"), items, opPos);
                        break;
                    }
                case (byte)'q': // BINPUT
                    Memoize(ReadByte(), "BINPUT");
                    break;
                case (byte)'r': // LONG_BINPUT
                    Memoize(ReadUInt32(), "LONG_BINPUT");
                    break;
                case 0x94: // MEMOIZE
                    Memoize(memo.Count, "MEMOIZE");
                    break;
                case (byte)'h': // BINGET
                    Push(MemoGet(ReadByte(), opPos), 0);
                    break;
                case (byte)'j': // LONG_BINGET
                    Push(MemoGet(ReadUInt32(), opPos), 0);
                    break;
                case (byte)'J': // BININT: signed 32-bit
                    Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4)), BoxCost);
                    break;
                case (byte)'K': // BININT1: unsigned 8-bit
                    Push((long)ReadByte(), BoxCost);
                    break;
                case (byte)'M': // BININT2: unsigned 16-bit
                    Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2)), BoxCost);
                    break;
                case 0x8a: // LONG1
                    Push(ReadLong1(opPos), BoxCost);
                    break;
                case (byte)'G': // BINFLOAT: the one big-endian number in the format
                    Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8)), BoxCost);
                    break;
                case (byte)'X': // BINUNICODE
                    PushString(Encoding.UTF8.GetString(ReadBytes(ReadLength(ReadUInt32()))));
                    break;
                case 0x8c: // SHORT_BINUNICODE
                    PushString(Encoding.UTF8.GetString(ReadBytes(ReadByte())));
                    break;
                case 0x8d: // BINUNICODE8
                    PushString(Encoding.UTF8.GetString(ReadBytes(ReadLength(BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8))))));
                    break;
                case (byte)'U': // SHORT_BINSTRING: a Python 2 str; Latin-1 keeps every byte.
                    PushString(Encoding.Latin1.GetString(ReadBytes(ReadByte())));
                    break;
                case (byte)'T': // BINSTRING
                    {
                        int length = BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4));
                        if (length < 0)
                            throw Error($"BINSTRING at byte {opPos} has a negative length {length}");
                        PushString(Encoding.Latin1.GetString(ReadBytes(length)));
                        break;
                    }
                case (byte)'N': // NONE
                    Push(null, 0);
                    break;
                case 0x88: // NEWTRUE
                    Push(true, BoxCost);
                    break;
                case 0x89: // NEWFALSE
                    Push(false, BoxCost);
                    break;
                case (byte)'c': // GLOBAL "module\nname\n"
                    {
                        string module = ReadLine();
                        string name = ReadLine();
                        Push(ResolveGlobal(module, name), MarkerCost);
                        break;
                    }
                case 0x93: // STACK_GLOBAL
                    {
                        object? name = Pop("STACK_GLOBAL");
                        object? module = Pop("STACK_GLOBAL");
                        if (module is not string m || name is not string n)
                            throw Error($"STACK_GLOBAL at byte {opPos} expects two strings, found {Describe(module)} and {Describe(name)}");
                        Push(ResolveGlobal(m, n), MarkerCost);
                        break;
                    }
                case (byte)'R': // REDUCE
                    {
                        object? args = Pop("REDUCE");
                        object? callable = Pop("REDUCE");
                        Push(Reduce(callable, args, opPos), MarkerCost);
                        break;
                    }
                case 0x81: // NEWOBJ
                    {
                        object? args = Pop("NEWOBJ");
                        object? cls = Pop("NEWOBJ");
                        if (cls is PickleGlobal { Kind: PickleGlobalKind.OrderedDict or PickleGlobalKind.Namespace } && args is PickleTuple)
                            Push(new PickleDict(), DictCost);
                        else
                            throw Error($"NEWOBJ at byte {opPos} can only create a collections.OrderedDict or an argparse.Namespace, found {Describe(cls)}");
                        break;
                    }
                case (byte)'b': // BUILD
                    {
                        // torch's state_dict() carries its per-module versions in an OrderedDict attribute
                        // (_metadata), and an argparse.Namespace its attributes, restored by BUILD; no weight
                        // depends on them, so the state is dropped.
                        Pop("BUILD");
                        object? target = Peek("BUILD");
                        if (target is not PickleDict)
                            throw Error($"BUILD at byte {opPos} sets state on {Describe(target)}; only dictionaries are supported");
                        break;
                    }
                case (byte)'Q': // BINPERSID
                    Push(PersistentLoad(Pop("BINPERSID"), opPos), MarkerCost);
                    break;
                default:
                    throw Error($"refusing to load: data.pkl uses pickle opcode 0x{op:x2} at byte {opPos}, which a tensor checkpoint does not need (only tensors and dictionaries are read; nothing is executed)");
            }
        }
    }

    private object ResolveGlobal(string module, string name)
    {
        string full = module + "." + name;
        PickleGlobal? global = full switch
        {
            "collections.OrderedDict" => new PickleGlobal(full, PickleGlobalKind.OrderedDict, null),
            // Training checkpoints of the official code store their command line ('args') beside the weights.
            "argparse.Namespace" => new PickleGlobal(full, PickleGlobalKind.Namespace, null),
            "torch._utils._rebuild_tensor_v2" => new PickleGlobal(full, PickleGlobalKind.RebuildTensorV2, null),
            "torch._utils._rebuild_parameter" => new PickleGlobal(full, PickleGlobalKind.RebuildParameter, null),
            "torch.FloatStorage" => Storage(ScalarType.Float32),
            "torch.DoubleStorage" => Storage(ScalarType.Float64),
            "torch.HalfStorage" => Storage(ScalarType.Float16),
            "torch.BFloat16Storage" => Storage(ScalarType.BFloat16),
            "torch.LongStorage" => Storage(ScalarType.Int64),
            "torch.IntStorage" => Storage(ScalarType.Int32),
            "torch.ShortStorage" => Storage(ScalarType.Int16),
            "torch.CharStorage" => Storage(ScalarType.Int8),
            "torch.ByteStorage" => Storage(ScalarType.Byte),
            "torch.BoolStorage" => Storage(ScalarType.Bool),
            _ => null,
        };
        return global ?? throw Error(
            $"refusing to load: the pickle references '{full}', which is not a tensor or dictionary (a checkpoint that runs code is never executed)");

        PickleGlobal Storage(ScalarType dtype) => new(full, PickleGlobalKind.StorageType, dtype);
    }

    private object? Reduce(object? callable, object? args, int opPos)
    {
        if (callable is not PickleGlobal global)
            throw Error($"REDUCE at byte {opPos} calls {Describe(callable)}, which is not an allowed function");
        if (args is not PickleTuple tuple)
            throw Error($"REDUCE at byte {opPos} calls '{global.Name}' with {Describe(args)} instead of an argument tuple");
        IReadOnlyList<object?> a = tuple.Items;

        switch (global.Kind)
        {
            case PickleGlobalKind.OrderedDict:
                {
                    // OrderedDict() is how the pickled state dict and its empty backward_hooks start;
                    // OrderedDict([(k, v), ...]) is accepted too since it is equally inert.
                    var dict = new PickleDict();
                    if (a.Count == 1 && a[0] is List<object?> pairs)
                    {
                        Charge(DictEntryCost * (long)pairs.Count);
                        foreach (object? pair in pairs)
                        {
                            if (pair is not PickleTuple { Items.Count: 2 } kv)
                                throw Error($"OrderedDict at byte {opPos} is built from {Describe(pair)} instead of (key, value) pairs");
                            dict.Set(CheckKey(kv.Items[0], opPos), kv.Items[1]);
                        }
                    }
                    else if (a.Count != 0)
                    {
                        throw Error($"OrderedDict at byte {opPos} is called with {a.Count} arguments; expected none or a list of pairs");
                    }
                    return dict;
                }
            case PickleGlobalKind.RebuildTensorV2:
                {
                    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                    if (a.Count is < 6 or > 7)
                        throw Error($"_rebuild_tensor_v2 at byte {opPos} has {a.Count} arguments; expected 6 or 7");
                    if (a[0] is not PickleStorage storage)
                        throw Error($"_rebuild_tensor_v2 at byte {opPos} expects a storage, found {Describe(a[0])}");
                    long offset = AsLong(a[1], "storage_offset", opPos);
                    long[] size = AsLongTuple(a[2], "size", opPos);
                    long[] stride = AsLongTuple(a[3], "stride", opPos);
                    if (size.Length != stride.Length)
                        throw Error($"_rebuild_tensor_v2 at byte {opPos} has size ({string.Join(", ", size)}) but stride ({string.Join(", ", stride)}) of a different length");
                    if (offset < 0 || size.Any(s => s < 0) || stride.Any(s => s < 0))
                        throw Error($"_rebuild_tensor_v2 at byte {opPos} has a negative offset, size or stride");
                    bool requiresGrad = a[4] is bool b && b;
                    return new PickledTensor(storage, offset, size, stride, requiresGrad);
                }
            case PickleGlobalKind.RebuildParameter:
                {
                    // _rebuild_parameter(data, requires_grad, backward_hooks): a Parameter is its data plus a flag.
                    if (a.Count != 3 || a[0] is not PickledTensor data)
                        throw Error($"_rebuild_parameter at byte {opPos} expects (tensor, requires_grad, backward_hooks)");
                    return data with { RequiresGrad = a[1] is bool b && b };
                }
            default:
                throw Error($"REDUCE at byte {opPos} calls '{global.Name}', which cannot be called");
        }
    }

    private PickleStorage PersistentLoad(object? pid, int opPos)
    {
        // torch.save writes ('storage', storage_type, key, location, numel); the bytes live in <prefix>/data/<key>.
        if (pid is not PickleTuple { Items.Count: 5 } t
            || t.Items[0] is not "storage"
            || t.Items[1] is not PickleGlobal { Kind: PickleGlobalKind.StorageType, DType: { } dtype }
            || t.Items[2] is not string key
            || t.Items[3] is not string location
            || t.Items[4] is not long numel
            || numel < 0)
        {
            throw Error($"BINPERSID at byte {opPos} has persistent id {Describe(pid)}; expected ('storage', <typed storage>, key, location, numel)");
        }
        return new PickleStorage(key, dtype, numel, location);
    }

    private void SetItems(PickleDict dict, List<object?> items, int opPos)
    {
        if (items.Count % 2 != 0)
            throw Error($"dictionary at byte {opPos} has an odd number ({items.Count}) of keys and values");
        Charge(DictEntryCost * (long)(items.Count / 2));
        for (int i = 0; i < items.Count; i += 2)
            dict.Set(CheckKey(items[i], opPos), items[i + 1]);
    }

    private object CheckKey(object? key, int opPos) => key switch
    {
        // Comparing two tuple keys walks both, so a key's size bounds the work of every lookup.
        PickleTuple { Elements: > MaxKeyTupleElements } t =>
            throw Error($"dictionary at byte {opPos} has a tuple key of {t.Elements} elements (at most {MaxKeyTupleElements} are accepted)"),
        string or long or bool or double or PickleTuple => key,
        _ => throw Error($"dictionary at byte {opPos} has key {Describe(key)}; only strings, numbers and tuples are supported"),
    };

    private long ReadLong1(int opPos)
    {
        int n = ReadByte();
        if (n > 8)
            throw Error($"LONG1 at byte {opPos} has {n} bytes; integers beyond 64 bits are not supported");
        ReadOnlySpan<byte> bytes = ReadBytes(n);
        if (n == 0)
            return 0;
        // Two's complement little-endian: sign-extend from the top byte.
        long value = (sbyte)bytes[n - 1] < 0 ? -1L : 0L;
        for (int i = n - 1; i >= 0; i--)
            value = (value << 8) | bytes[i];
        return value;
    }

    private long AsLong(object? value, string what, int opPos) =>
        value as long? ?? throw Error($"_rebuild_tensor_v2 at byte {opPos} has {what} {Describe(value)}; expected an integer");

    private long[] AsLongTuple(object? value, string what, int opPos)
    {
        if (value is not PickleTuple t)
            throw Error($"_rebuild_tensor_v2 at byte {opPos} has {what} {Describe(value)}; expected a tuple of integers");
        if (t.Items.Count > CheckpointLimits.MaxDimensions)
            throw Error($"_rebuild_tensor_v2 at byte {opPos} has a {what} of {t.Items.Count} dimensions (at most {CheckpointLimits.MaxDimensions} are accepted)");
        return t.Items.Select(item => AsLong(item, what, opPos)).ToArray();
    }

    private object? MemoGet(long index, int opPos) =>
        memo.TryGetValue(index, out object? value) ? value : throw Error($"memo entry {index} read at byte {opPos} was never stored");

    private void Push(object? value, long cost)
    {
        Charge(StackSlotCost + cost);
        stack.Add(value);
    }

    private void PushString(string value) => Push(value, StringCost + 2L * value.Length);

    private void PushTuple(object?[] items) => Push(NewTuple(items), TupleCost + 8L * items.Length);

    private PickleTuple NewTuple(object?[] items)
    {
        // Hashing and comparing tuples recurses into nested ones: refuse deep nesting before it can exhaust the stack.
        var tuple = new PickleTuple(items);
        if (tuple.Depth > MaxTupleNesting)
            throw Error($"a tuple at byte {opPos} is nested {tuple.Depth} levels deep (at most {MaxTupleNesting} are accepted)");
        return tuple;
    }

    private void Memoize(long index, string opcode)
    {
        Charge(MemoEntryCost);
        memo[index] = Peek(opcode);
    }

    private void Charge(long bytes)
    {
        charged += bytes;
        if (charged > budget)
        {
            throw Error(
                $"refusing to load: data.pkl builds more than {budget >> 20} MiB of objects by byte {opPos}, more than a pickle of " +
                $"{data.Length} bytes ever needs (the file is corrupt or hostile)");
        }
    }

    private object? Pop(string opcode)
    {
        object? value = Peek(opcode);
        stack.RemoveAt(stack.Count - 1);
        return value;
    }

    private object?[] PopN(int n, string opcode)
    {
        var items = new object?[n];
        for (int i = n - 1; i >= 0; i--)
            items[i] = Pop(opcode);
        return items;
    }

    private object? Peek(string opcode)
    {
        // Values below the latest MARK belong to an enclosing TUPLE/LIST/DICT, as in Python's unpickler.
        if (stack.Count == 0 || (marks.Count > 0 && stack.Count <= marks.Peek()))
            throw Error($"{opcode} at byte {opPos} finds no value on the pickle stack");
        return stack[^1];
    }

    private T PeekAs<T>(string opcode) where T : class =>
        Peek(opcode) as T ?? throw Error($"{opcode} expects a {typeof(T).Name} on the stack, found {Describe(Peek(opcode))}");

    private List<object?> PopToMark(string opcode)
    {
        if (marks.Count == 0)
            throw Error($"{opcode} at byte {opPos} finds no MARK on the pickle stack");
        int start = marks.Pop();
        List<object?> items = stack.GetRange(start, stack.Count - start);
        stack.RemoveRange(start, stack.Count - start);
        return items;
    }

    private byte ReadByte()
    {
        if (pos >= data.Length)
            throw Error($"data.pkl ends unexpectedly at byte {pos} (the checkpoint is truncated or corrupt)");
        return data[pos++];
    }

    private ReadOnlySpan<byte> ReadBytes(int count)
    {
        if (count > data.Length - pos)
            throw Error($"data.pkl ends unexpectedly: {count} bytes needed at byte {pos}, {data.Length - pos} left (the checkpoint is truncated or corrupt)");
        var span = new ReadOnlySpan<byte>(data, pos, count);
        pos += count;
        return span;
    }

    private uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4));

    private int ReadLength(ulong length) =>
        length <= (ulong)(data.Length - pos)
            ? (int)length
            : throw Error($"data.pkl ends unexpectedly: a string of {length} bytes at byte {pos}, {data.Length - pos} left (the checkpoint is truncated or corrupt)");

    private string ReadLine()
    {
        int end = Array.IndexOf(data, (byte)'\n', pos);
        if (end < 0)
            throw Error($"data.pkl ends unexpectedly inside a GLOBAL name at byte {pos}");
        string line = Encoding.UTF8.GetString(data, pos, end - pos);
        pos = end + 1;
        return line;
    }

    private CheckpointException Error(string problem) => new($"{filePath}: {problem}");

    private static string Describe(object? value) => value switch
    {
        null => "None",
        string s => $"the string '{s}'",
        long l => $"the integer {l}",
        bool b => b ? "True" : "False",
        double d => $"the float {d}",
        PickleTuple t => $"a tuple of {t.Items.Count}",
        List<object?> l => $"a list of {l.Count}",
        PickleDict => "a dictionary",
        PickleGlobal g => $"'{g.Name}'",
        PickleStorage s => $"storage '{s.Key}'",
        PickledTensor => "a tensor",
        _ => value.GetType().Name,
    };
}

/// <summary>A Python tuple from the pickle. Compares by value so tuples can be dictionary keys, as in Python.</summary>
/// <remarks>
/// The hash code, nesting depth and element count are computed once, from those of the items, so hashing never
/// recurses; the reader bounds the depth at construction and the element count of keys, which bounds comparing.
/// </remarks>
internal sealed class PickleTuple : IEquatable<PickleTuple>
{
    private readonly int hashCode;

    public PickleTuple(object?[] items)
    {
        Items = items;
        var hash = new HashCode();
        int depth = 0;
        long elements = 0;
        foreach (object? item in items)
        {
            // A nested tuple's GetHashCode returns its stored hash: constant time.
            hash.Add(item);
            if (item is PickleTuple inner)
            {
                depth = Math.Max(depth, inner.Depth);
                elements += inner.Elements;
            }
            // Shared sub-tuples (through the memo) are counted every time they appear, as comparing visits them;
            // the cap keeps the count from overflowing.
            elements = Math.Min(elements + 1, int.MaxValue);
        }
        hashCode = hash.ToHashCode();
        Depth = depth + 1;
        Elements = elements;
    }

    public IReadOnlyList<object?> Items { get; }

    /// <summary>1 for a tuple of non-tuples, one more for each level of tuples inside.</summary>
    public int Depth { get; }

    /// <summary>The items, counting those of nested tuples too (capped at <see cref="int.MaxValue"/>).</summary>
    public long Elements { get; }

    public bool Equals(PickleTuple? other)
    {
        if (ReferenceEquals(this, other))
            return true;
        if (other is null || hashCode != other.hashCode || Elements != other.Elements || Items.Count != other.Items.Count)
            return false;
        for (int i = 0; i < Items.Count; i++)
        {
            if (!Equals(Items[i], other.Items[i]))
                return false;
        }
        return true;
    }

    public override bool Equals(object? obj) => Equals(obj as PickleTuple);

    public override int GetHashCode() => hashCode;
}

/// <summary>A Python dict or OrderedDict from the pickle, in insertion order (state-dict order matters to users).</summary>
internal sealed class PickleDict
{
    public OrderedDictionary<object, object?> Entries { get; } = new();

    /// <summary>Python semantics: a repeated key replaces the value but keeps its first position.</summary>
    public void Set(object key, object? value) => Entries[key] = value;
}

internal enum PickleGlobalKind
{
    OrderedDict,
    Namespace,
    RebuildTensorV2,
    RebuildParameter,
    StorageType,
}

/// <summary>An allow-listed Python global: an inert marker that the reader interprets itself, never code.</summary>
internal sealed record PickleGlobal(string Name, PickleGlobalKind Kind, ScalarType? DType);

/// <summary>A typed storage named by a persistent id; its bytes are the zip entry <c>&lt;prefix&gt;/data/&lt;Key&gt;</c>.</summary>
internal sealed record PickleStorage(string Key, ScalarType DType, long NumElements, string Location);

/// <summary>A tensor described by <c>_rebuild_tensor_v2</c>: a strided view (in elements) of a storage.</summary>
internal sealed record PickledTensor(PickleStorage Storage, long StorageOffset, long[] Size, long[] Stride, bool RequiresGrad);
