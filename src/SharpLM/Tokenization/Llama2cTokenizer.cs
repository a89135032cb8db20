using System.Text;

namespace SharpLM.Tokenization;

/// <summary>
/// The SentencePiece-style BPE tokenizer of llama2.c (its <c>tokenizer.bin</c>: pieces with scores), encoding and
/// decoding exactly as llama2.c's <c>run.c</c> does. Ids 0, 1, 2 are unk, bos and eos; ids 3..258 are the byte
/// tokens &lt;0x00&gt;..&lt;0xFF&gt; used for characters that have no piece of their own.
/// </summary>
/// <remarks>
/// Encode: a dummy-prefix space token first (for non-empty text), then each UTF-8 character's piece or its byte
/// tokens, then repeatedly the adjacent pair whose concatenation is a piece with the highest score is merged (the
/// leftmost on ties). Special-token text such as "&lt;s&gt;" is never matched (run.c does not either), and no
/// bos/eos is added: callers add them. Decode: a leading space right after bos is dropped, byte tokens become their
/// bytes, and the bytes are read as UTF-8 (invalid sequences become U+FFFD).
/// </remarks>
public sealed class Llama2cTokenizer : ITokenizer
{
    /// <summary>Id of the first byte token: byte b is id ByteTokenOffset + b.</summary>
    public const int ByteTokenOffset = 3;

    const int UnkId = 0, BosId = 1, EosId = 2;

    readonly byte[][] pieces;
    readonly string[] texts;
    readonly float[] scores;
    readonly Dictionary<string, int> idByText = new(StringComparer.Ordinal);
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> idBySpan;
    readonly int? spaceId;

    /// <summary>Builds a tokenizer from its pieces (UTF-8 bytes) and scores, indexed by id.</summary>
    /// <exception cref="SharpLMException">The vocabulary lacks the special or byte tokens at their fixed ids.</exception>
    public Llama2cTokenizer(IReadOnlyList<byte[]> pieces, IReadOnlyList<float> scores)
    {
        if (pieces.Count != scores.Count)
            throw new SharpLMException($"llama2.c tokenizer: {pieces.Count} pieces but {scores.Count} scores.");
        if (pieces.Count < ByteTokenOffset + 256)
            throw new SharpLMException($"llama2.c tokenizer: {pieces.Count} tokens is too few; ids 0-2 (unk, bos, eos) and 3-258 " +
                                       "(the 256 byte tokens) are required.");
        this.pieces = pieces.Select(p => p.ToArray()).ToArray();
        this.scores = scores.ToArray();
        texts = this.pieces.Select(p => Encoding.UTF8.GetString(p)).ToArray();
        for (int b = 0; b < 256; b++)
        {
            string expected = ByteToken((byte)b);
            if (texts[ByteTokenOffset + b] != expected)
                throw new SharpLMException($"llama2.c tokenizer: id {ByteTokenOffset + b} should be the byte token {expected} " +
                                           $"(llama2.c's byte fallback), found \"{texts[ByteTokenOffset + b]}\".");
        }
        // The first of equal pieces wins, as a lookup by text can only return one.
        for (int id = 0; id < texts.Length; id++) idByText.TryAdd(texts[id], id);
        idBySpan = idByText.GetAlternateLookup<ReadOnlySpan<char>>();
        spaceId = TokenToId(" ");
        MaxPieceBytes = this.pieces.Max(p => p.Length);
    }

    /// <summary>Loads a llama2.c <c>tokenizer.bin</c> (see <see cref="Llama2cTokenizerFile"/>).</summary>
    public static Llama2cTokenizer Load(string path) => Llama2cTokenizerFile.Load(path);

    /// <inheritdoc/>
    public int VocabSize => pieces.Length;

    /// <inheritdoc/>
    public SpecialTokenIds Special { get; } = new(Pad: null, Bos: BosId, Eos: EosId, Unk: UnkId);

    /// <inheritdoc/>
    public string FileName => Llama2cTokenizerFile.DefaultFileName;

    /// <summary>Each token's bytes, indexed by id.</summary>
    public IReadOnlyList<byte[]> Pieces => pieces;

    /// <summary>Each token's merge score, indexed by id (higher merges first).</summary>
    public IReadOnlyList<float> Scores => scores;

    /// <summary>Length in bytes of the longest piece (stored in the file header).</summary>
    public int MaxPieceBytes { get; }

    /// <inheritdoc/>
    public int? TokenToId(string token) => idByText.TryGetValue(token, out int id) ? id : null;

    /// <inheritdoc/>
    public string? IdToToken(int id) => (uint)id < (uint)texts.Length ? texts[id] : null;

    /// <inheritdoc/>
    /// <remarks>Writes llama2.c's tokenizer.bin format, not tokenizer.json.</remarks>
    public void Save(string path) => Llama2cTokenizerFile.Save(this, path);

    /// <inheritdoc/>
    public int[] Encode(string text, bool allowSpecial = false)
    {
        if (text.Length == 0) return [];
        var symbols = new List<int>();
        if (spaceId is int space) symbols.Add(space);
        Span<char> chars = stackalloc char[2];
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in text.EnumerateRunes())
        {
            int length = rune.EncodeToUtf16(chars);
            if (idBySpan.TryGetValue(chars[..length], out int id))
            {
                symbols.Add(id);
                continue;
            }
            foreach (byte b in utf8[..rune.EncodeToUtf8(utf8)]) symbols.Add(ByteTokenOffset + b);
        }
        return Merge(symbols);
    }

    /// <summary>Merges the best-scoring adjacent pair until none forms a piece. A priority queue keyed by
    /// (score descending, position ascending) finds the same pair as run.c's full scan; entries made stale by
    /// an earlier merge are recognised and skipped when popped.</summary>
    int[] Merge(List<int> symbols)
    {
        int n = symbols.Count;
        var sym = symbols.ToArray();
        var next = new int[n];
        var prev = new int[n];
        for (int i = 0; i < n; i++) (prev[i], next[i]) = (i - 1, i + 1 < n ? i + 1 : -1);
        var queue = new PriorityQueue<(int Left, int Right, int Merged), (float, int)>(
            Comparer<(float Score, int Position)>.Create((a, b) =>
                a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Position.CompareTo(b.Position)));
        void Consider(int left)
        {
            int right = next[left];
            if (right < 0) return;
            if (idByText.TryGetValue(texts[sym[left]] + texts[sym[right]], out int merged))
                queue.Enqueue((left, right, merged), (scores[merged], left));
        }
        for (int i = 0; i + 1 < n; i++) Consider(i);
        while (queue.TryDequeue(out var pair, out _))
        {
            var (left, right, merged) = pair;
            // Stale if either side was merged away or changed since the entry was made.
            if (sym[left] < 0 || next[left] != right || sym[right] < 0 ||
                !idByText.TryGetValue(texts[sym[left]] + texts[sym[right]], out int now) || now != merged) continue;
            sym[left] = merged;
            sym[right] = -1;
            next[left] = next[right];
            if (next[left] >= 0) prev[next[left]] = left;
            if (prev[left] >= 0) Consider(prev[left]);
            Consider(left);
        }
        var result = new List<int>(n);
        for (int i = 0; i >= 0; i = next[i]) result.Add(sym[i]);
        return result.ToArray();
    }

    /// <inheritdoc/>
    /// <remarks>Unknown ids are skipped; with <paramref name="skipSpecial"/> so are unk, bos and eos.</remarks>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var bytes = new List<byte>();
        int previous = -1;
        foreach (int id in ids)
        {
            int before = previous;
            previous = id;
            if ((uint)id >= (uint)pieces.Length || (skipSpecial && id <= EosId)) continue;
            if (id >= ByteTokenOffset && id < ByteTokenOffset + 256)
            {
                bytes.Add((byte)(id - ByteTokenOffset));
                continue;
            }
            var piece = pieces[id].AsSpan();
            if (before == BosId && piece.Length > 0 && piece[0] == (byte)' ') piece = piece[1..];
            bytes.AddRange(piece);
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    static string ByteToken(byte b) => $"<0x{b:X2}>";
}
