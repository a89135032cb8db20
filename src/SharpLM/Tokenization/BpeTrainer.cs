using System.Runtime.InteropServices;

namespace SharpLM.Tokenization;

/// <summary>
/// Trains a byte-level BPE vocabulary the way Hugging Face's BpeTrainer does (with the full
/// 256-byte initial alphabet): special tokens get ids 0..n-1, the 256 byte tokens come next in
/// GPT-2 order, then each merge adds a token until the vocabulary size is reached. Words come
/// from <see cref="BpeTrainerOptions.PreTokenizer"/> (GPT-2's regex by default).
/// </summary>
/// <remarks>
/// Documents are streamed once and only word counts are kept. Each step merges the most frequent
/// adjacent pair; ties go to the pair whose (left id, right id) is smallest, i.e. whose tokens
/// are oldest, which is Hugging Face's rule. Pair counts and the words containing each pair are
/// updated incrementally, so a merge costs time proportional to the words it touches. The result
/// is deterministic: the same documents and options give a byte-identical tokenizer.json.
/// A merge whose result would spell a special token is skipped, so special tokens only ever come
/// from explicit special-token matching.
/// </remarks>
public sealed class BpeTrainer(BpeTrainerOptions options)
{
    /// <summary>The settings this trainer uses.</summary>
    public BpeTrainerOptions Options { get; } = options;

    /// <summary>Trains a tokenizer on <paramref name="documents"/>, read once, in order.</summary>
    /// <exception cref="SharpLMException">The options are invalid.</exception>
    public ByteLevelBpeTokenizer Train(IEnumerable<string> documents, Action<BpeTrainingProgress>? progress = null)
    {
        Options.Validate();
        var words = CountWords(documents, Options.PreTokenizer, progress);
        return new MergeState(Options, words, progress).Run();
    }

    static Dictionary<string, long> CountWords(IEnumerable<string> documents, PreTokenizer preTokenizer, Action<BpeTrainingProgress>? progress)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var bySpan = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        var pieces = new List<(int Start, int Length)>();
        long done = 0;
        foreach (var doc in documents)
        {
            pieces.Clear();
            preTokenizer.Split(doc, pieces);
            foreach (var (start, length) in pieces)
                CollectionsMarshal.GetValueRefOrAddDefault(bySpan, doc.AsSpan(start, length), out _)++;
            if (++done % 256 == 0) progress?.Invoke(new(BpeTrainingStage.CountingWords, done, null));
        }
        progress?.Invoke(new(BpeTrainingStage.CountingWords, done, done));
        return counts;
    }

    /// <summary>The words as token-id sequences in one array, with the pair statistics over them.</summary>
    sealed class MergeState
    {
        readonly BpeTrainerOptions options;
        readonly Action<BpeTrainingProgress>? progress;
        readonly List<string> tokens = [];
        readonly Dictionary<string, int> tokenIds = new(StringComparer.Ordinal);
        readonly int[] symbols;
        readonly int[] wordStart;
        readonly int[] wordLength;
        readonly long[] wordCount;
        readonly int[] wordStamp;
        readonly Dictionary<long, PairStats> pairs = [];
        readonly PriorityQueue<long, QueueKey> queue = new(QueueKey.Comparer);
        readonly List<long> raised = [];
        int stamp;

        public MergeState(BpeTrainerOptions options, Dictionary<string, long> words, Action<BpeTrainingProgress>? progress)
        {
            this.options = options;
            this.progress = progress;
            foreach (var special in options.SpecialTokens) AddToken(special);
            var byteIds = new int[256];
            foreach (byte b in ByteLevelAlphabet.BytesInOrder) byteIds[b] = AddToken(ByteLevelAlphabet.ByteToChar(b).ToString());

            int n = words.Count;
            wordStart = new int[n];
            wordLength = new int[n];
            wordCount = new long[n];
            wordStamp = new int[n];
            long total = 0;
            foreach (var word in words.Keys) total += Wtf8.MaxByteCount(word.Length);
            var arena = new byte[total];
            int used = 0, w = 0;
            foreach (var (word, count) in words)
            {
                int length = Wtf8.Encode(word, arena.AsSpan(used));
                (wordStart[w], wordLength[w], wordCount[w]) = (used, length, count);
                used += length;
                w++;
            }
            symbols = new int[used];
            for (int i = 0; i < used; i++) symbols[i] = byteIds[arena[i]];

            for (w = 0; w < n; w++)
                for (int i = wordStart[w], end = i + wordLength[w] - 1; i < end; i++)
                    Change(Key(symbols[i], symbols[i + 1]), wordCount[w], w);
            EnqueueRaised();
        }

        public ByteLevelBpeTokenizer Run()
        {
            var merges = new List<(string, string)>();
            long target = options.VocabSize - tokens.Count;
            while (tokens.Count < options.VocabSize && queue.TryDequeue(out long key, out var queued))
            {
                var stats = pairs[key];
                if (stats.Count != queued.Count)
                {
                    // Stale entry: counts only fell since (a rise queues a fresh entry), so requeue the true count.
                    if (stats.Count > 0 && stats.Count < queued.Count) queue.Enqueue(key, new(stats.Count, key));
                    continue;
                }
                if (stats.Count < options.MinFrequency) break;

                var (left, right) = ((int)(key >> 32), (int)key);
                string merged = tokens[left] + tokens[right];
                if (!tokenIds.TryGetValue(merged, out int mergedId)) mergedId = AddToken(merged);
                else if (mergedId < options.SpecialTokens.Count)
                {
                    stats.Forbid();
                    continue;
                }
                merges.Add((tokens[left], tokens[right]));
                Apply(stats, left, right, mergedId);
                progress?.Invoke(new(BpeTrainingStage.Merging, merges.Count, target));
            }
            progress?.Invoke(new(BpeTrainingStage.Merging, merges.Count, merges.Count));

            var vocab = new Dictionary<string, int>(tokenIds, StringComparer.Ordinal);
            var specials = options.SpecialTokens.Select((t, i) => new AddedToken(i, t, Special: true));
            return new ByteLevelBpeTokenizer(vocab, merges, specials, options.PreTokenizer);
        }

        int AddToken(string token)
        {
            tokenIds.Add(token, tokens.Count);
            tokens.Add(token);
            return tokens.Count - 1;
        }

        // Replaces every (left, right) in the words that contain it, left to right without overlap,
        // and moves the counts of the neighbouring pairs to the pairs with the new token.
        void Apply(PairStats stats, int left, int right, int mergedId)
        {
            stamp++;
            foreach (int w in stats.Words)
            {
                if (wordStamp[w] == stamp) continue;
                wordStamp[w] = stamp;
                long count = wordCount[w];
                int start = wordStart[w], end = start + wordLength[w], write = start;
                for (int read = start; read < end;)
                {
                    if (read + 1 < end && symbols[read] == left && symbols[read + 1] == right)
                    {
                        if (write > start)
                        {
                            int before = symbols[write - 1];
                            Change(Key(before, left), -count, w);
                            Change(Key(before, mergedId), count, w);
                        }
                        if (read + 2 < end)
                        {
                            int after = symbols[read + 2];
                            Change(Key(right, after), -count, w);
                            Change(Key(mergedId, after), count, w);
                        }
                        symbols[write++] = mergedId;
                        read += 2;
                    }
                    else symbols[write++] = symbols[read++];
                }
                wordLength[w] = write - start;
            }
            stats.Forbid();
            EnqueueRaised();
        }

        void Change(long key, long delta, int word)
        {
            ref var stats = ref CollectionsMarshal.GetValueRefOrAddDefault(pairs, key, out _);
            stats ??= new PairStats();
            if (stats.Forbidden) return;
            stats.Count += delta;
            if (delta <= 0) return;
            if (stats.Words.Count == 0 || stats.Words[^1] != word) stats.Words.Add(word);
            if (stats.RaisedAt != stamp)
            {
                stats.RaisedAt = stamp;
                raised.Add(key);
            }
        }

        void EnqueueRaised()
        {
            foreach (long key in raised)
            {
                var stats = pairs[key];
                if (stats.Count > 0) queue.Enqueue(key, new(stats.Count, key));
            }
            raised.Clear();
            stamp++;
        }

        static long Key(int left, int right) => ((long)left << 32) | (uint)right;
    }

    /// <summary>Count of a pair and the words it was seen in (some may no longer contain it).</summary>
    sealed class PairStats
    {
        public long Count;
        public List<int> Words = [];
        public int RaisedAt = -1;
        public bool Forbidden;

        /// <summary>Retires the pair: merged (or never to be merged), so its entries are ignored.</summary>
        public void Forbid()
        {
            Forbidden = true;
            Count = 0;
            Words = [];
        }
    }

    /// <summary>Queue order: highest count first, then smallest (left id, right id).</summary>
    readonly record struct QueueKey(long Count, long Pair)
    {
        public static readonly IComparer<QueueKey> Comparer = Comparer<QueueKey>.Create((a, b) =>
            a.Count != b.Count ? b.Count.CompareTo(a.Count) : a.Pair.CompareTo(b.Pair));
    }
}
