"""Vocabulary of the lexical matcher: stopwords, generic watch-item wording, a T2S map.

Restored unchanged with the lexical matcher (see `crawler.matching.lexical`): its offsets
rely on a one-character-for-one-character traditional-to-simplified map.
"""

from __future__ import annotations


def _word_set(text: str) -> frozenset[str]:
    """A frozen set of the whitespace-separated words of `text`."""
    return frozenset(text.split())


#: English and Spanish function words, one list: our outlets mix the two (a Spanish story
#: quotes an English MOU title), and a language tag on the page is often wrong.
STOPWORDS = _word_set(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself said says
    say told according including among may amid per via mr ms mrs s t its it's upon
    al algo algunas algunos ante antes como con contra cual cuando de del desde donde durante e
    el ella ellas ellos en entre era eran es esa esas ese eso esos esta estaba estado estan
    estas este esto estos fue fueron ha habia han hasta hay la las le les lo los mas me mi mis
    muy ni no nos nuestra nuestro o os otra otras otro otros para pero poco por porque que quien
    quienes se sea ser si sido sin sobre son su sus tambien te tiene tienen toda todas todo todos
    tu tus u un una uno unos y ya dijo segun señalo afirmo indico explico asi cada
    """
)

#: Wording every watch item shares ("Whether X translates into measurable Y") and that says
#: nothing about the topic; dropped from automatic item terms only, never from article text.
GENERIC_ITEM_WORDS = _word_set(
    """
    whether progresses progress actual actually translates translate translated measurable
    increases increase increased response respond concrete used use using any both signature
    signing request requests new further continue continues remain remains become becomes
    """
)

#: Chinese function words and particles: not content, not counted in a passage's length.
CJK_STOPWORDS = _word_set(
    "的 了 在 是 和 與 与 及 並 并 也 將 将 於 于 為 为 等 對 对 之 其 以 而 或 但 就 都 "
    "這 这 那 此 該 该 已 被 由 從 从 向 到 把 讓 让 给 給 中 上 下 今 日 表示 指出 說 说"
)

#: Traditional -> simplified for the characters of news vocabulary (politics, trade, tech,
#: justice) plus the common 臺/台 variant. Both scripts are folded to simplified before
#: comparison, so 臺灣, 台灣 and 台湾 are one token. Characters not listed compare as written.
_T2S_PAIRS = (
    "國国 灣湾 臺台 華华 總总 統统 會会 議议 資资 數数 據据 電电 腦脑 協协 備备 錄录 條条 約约 "
    "務务 經经 濟济 貿贸 業业 農农 產产 雞鸡 進进 開开 關关 發发 對对 於于 與与 為为 這这 個个 "
    "們们 來来 時时 間间 後后 將将 從从 區区 際际 邊边 長长 東东 門门 問问 題题 義义 權权 機机 "
    "構构 設设 計计 畫画 劃划 準准 審审 環环 運运 營营 範范 訊讯 網网 絡络 論论 說说 談谈 話话 "
    "請请 讓让 記记 詞词 譯译 認认 證证 識识 護护 軍军 歡欢 黨党 選选 舉举 壓压 強强 斷断 絕绝 "
    "誼谊 親亲 萬万 億亿 項项 額额 貨货 幣币 價价 錢钱 銀银 購购 買买 賣卖 實实 驗验 檢检 測测 "
    "試试 應应 該该 當当 現现 見见 視视 觀观 覽览 團团 訪访 屆届 紀纪 樂乐 書书 報报 導导 聞闻 "
    "聽听 衛卫 隊队 陸陆 兩两 蘭兰 飛飞 場场 廠厂 倉仓 儲储 輸输 車车 鐵铁 線线 號号 碼码 術术 "
    "學学 習习 專专 員员 領领 體体 態态 勢势 慮虑 擴扩 張张 興兴 啟启 動动 處处 辦办 歐欧 亞亚 "
    "韓韩 聯联 盧卢 羅罗 烏乌 蘇苏 維维 爾尔 齊齐 薩萨 瑪玛 馬马 貝贝 賴赖 蕭萧 龍龙 鄭郑 銘铭 "
    "謙谦 評评 陳陈 駿骏 傳传 勳勋 禮礼 儀仪 頒颁 贈赠 衝冲 擊击 憲宪 訂订 簽签 諒谅 瞭了 "
    "調调 偵侦 "
    "販贩 詐诈 騙骗 積积 極极 響响 譴谴 責责 脅胁 復复 轉转 變变 駭骇 綠绿 園园 雲云 筆笔 廣广 "
    "傷伤 補补 貸贷 損损 噸吨 裝装 載载 豬猪 餘余 鳥鸟 標标 糧粮 飼饲 養养 參参 歷历 週周 戰战 "
    "爭争 應应 決决 組组 織织 預预 稅税 費费 創创 優优 勢势 術术 獎奖 勵励 龐庞 "
    "縣县 鄉乡 鎮镇 島岛 聖圣 廬庐 倫伦 "
)
T2S = str.maketrans({pair[0]: pair[1] for pair in _T2S_PAIRS.split()})
