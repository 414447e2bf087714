-- The service catalog (目录清单, DESIGN §5): data, not code. Limits: wd =
-- working days, d = calendar days, h = hours.

INSERT INTO departments (code, name_zh, name_en) VALUES
  ('consult',        '法律咨询',       'legal consultation'),
  ('legal_aid',      '法律援助',       'legal aid'),
  ('mediation',      '人民调解',       'people''s mediation'),
  ('lawyer',         '律师服务',       'lawyer services'),
  ('notary_guide',   '公证指引',       'notary guidance'),
  ('notary_admin',   '公证管理科',     'notary administration section'),
  ('forensic_guide', '司法鉴定指引',   'forensic appraisal guidance'),
  ('forensic_admin', '司法鉴定管理科', 'forensic appraisal administration section'),
  ('pro_mediation',  '专业调解',       'professional (industry) mediation'),
  ('exam',           '法律职业资格考试', 'legal professional qualification exam'),
  ('resettlement',   '安置帮教',       'resettlement and assistance'),
  ('video_visit',    '远程视频会见',   'remote video visits'),
  ('counsel',        '村(居)法律顾问', 'village legal counsel'),
  ('lawyer_admin',   '律师管理科',     'lawyer administration section (律管科)'),
  ('grassroots',     '基层工作科',     'grassroots work section (基层科)'),
  ('discipline',     '督察与纪检',     'inspection and discipline');

INSERT INTO services (code, ordinal, name_zh, name_en, basic, confidential,
                      whole_limit_n, whole_limit_unit, whole_limit_statutory) VALUES
  ('consult',         1, '法律咨询',           'legal consultation', true,  false, NULL, NULL, false),
  ('legal_aid',       2, '法律援助',           'legal aid',          true,  false, 7, 'd', true),
  ('mediation',       3, '人民调解',           'people''s mediation', true, false, NULL, NULL, false),
  ('lawyer',          4, '律师服务',           'lawyer services',    false, false, NULL, NULL, false),
  ('notary',          5, '公证指引',           'notary guidance',    false, false, NULL, NULL, false),
  ('forensic',        6, '司法鉴定指引',       'forensic appraisal guidance', false, false, NULL, NULL, false),
  ('pro_mediation',   7, '专业调解',           'professional mediation', false, false, NULL, NULL, false),
  ('exam',            8, '法律职业资格考试',   'legal qualification exam', false, false, NULL, NULL, false),
  ('resettlement',    9, '安置帮教',           'resettlement and assistance', false, true, NULL, NULL, false),
  ('prison_video',   10, '远程视频会见',       'remote prison video visit', false, false, NULL, NULL, false),
  ('village_counsel',11, '村法律顾问意见',     'village legal counsel opinion', false, false, NULL, NULL, false),
  ('complaint',      12, '投诉',               'complaint', false, false, NULL, NULL, false);

INSERT INTO steps (service, idx, name, action_zh, place, designated, dept, limit_n, limit_unit,
                   statutory, skip_when_intake_at, escalate_after_s) VALUES
  ('consult',        0, 'answer',  '解答咨询',         'locality', NULL, 'consult',        2, 'wd', false, NULL, 14400),
  ('legal_aid',      0, 'review',  '初审',             'town',     NULL, 'legal_aid',      2, 'wd', false, 'city', NULL),
  ('legal_aid',      1, 'decide',  '审批',             'city',     NULL, 'legal_aid',      7, 'd',  true,  NULL, NULL),
  ('legal_aid',      2, 'assign',  '指派',             'city',     NULL, 'legal_aid',      3, 'd',  true,  NULL, NULL),
  ('mediation',      0, 'mediate', '调解',             'locality', NULL, 'mediation',     30, 'd',  false, NULL, NULL),
  ('lawyer',         0, 'serve',   '律师服务(轮值或自选, 收费须当事人同意)', 'town', NULL, 'lawyer', 5, 'wd', false, NULL, NULL),
  ('notary',         0, 'guide',   '公证指引',         'town',     NULL, 'notary_guide',   1, 'wd', false, NULL, NULL),
  ('notary',         1, 'refer',   '协助网上申办并转介', 'city',   NULL, 'notary_admin',   2, 'wd', false, NULL, NULL),
  ('forensic',       0, 'guide',   '司法鉴定指引与预约', 'town',   NULL, 'forensic_guide', 1, 'wd', false, NULL, NULL),
  ('forensic',       1, 'refer',   '转介鉴定机构',     'city',     NULL, 'forensic_admin', 2, 'wd', false, NULL, NULL),
  ('pro_mediation',  0, 'refer',   '转介行业调解委员会并跟踪', 'city', NULL, 'pro_mediation', 30, 'd', false, NULL, NULL),
  ('exam',           0, 'answer',  '考试咨询',         'city',     NULL, 'exam',           5, 'wd', false, NULL, NULL),
  ('resettlement',   0, 'assist',  '安置帮教',         'town',     NULL, 'resettlement',   5, 'wd', false, NULL, NULL),
  ('prison_video',   0, 'book',    '预约远程视频会见', 'designated',
     ARRAY['dg.hongmei', 'dg.humen', 'dg.dongcheng', 'dg.dongkeng', 'dg.zhangmutou'],
                                                                       'video_visit',    5, 'wd', false, NULL, NULL),
  ('village_counsel',0, 'opinion', '出具法律意见',     'locality', NULL, 'counsel',        5, 'wd', false, NULL, NULL),
  ('complaint',      0, 'investigate', '调查处理投诉', 'city',     NULL, 'discipline',    15, 'wd', false, NULL, NULL);

INSERT INTO outcomes (service, step_idx, ord, code, next_idx, ends, note_zh) VALUES
  ('consult',        0, 1, 'answered',     NULL, 'completed',  '已解答'),
  ('consult',        0, 2, 'referred',     NULL, 'completed',  '已转介'),
  ('legal_aid',      0, 1, 'pass',         1,    NULL,         '初审通过'),
  ('legal_aid',      0, 2, 'not_eligible', NULL, 'terminated', '不符合条件(书面说明理由)'),
  ('legal_aid',      1, 1, 'granted',      2,    NULL,         '准予援助'),
  ('legal_aid',      1, 2, 'denied',       NULL, 'completed',  '不予援助(书面理由; 可在5日内向司法局提出异议)'),
  ('legal_aid',      1, 3, 'advance_aid',  2,    NULL,         '先行援助'),
  ('legal_aid',      2, 1, 'assigned',     NULL, 'completed',  '已指派'),
  ('mediation',      0, 1, 'settled',      NULL, 'completed',  '调解成功'),
  ('mediation',      0, 2, 'not_settled',  NULL, 'completed',  '调解不成'),
  ('mediation',      0, 3, 'refused',      NULL, 'completed',  '不予受理'),
  ('lawyer',         0, 1, 'done',         NULL, 'completed',  '已服务'),
  ('notary',         0, 1, 'guided',       1,    NULL,         '已指引'),
  ('notary',         1, 1, 'referred',     NULL, 'completed',  '已转介(机构与申请号)'),
  ('forensic',       0, 1, 'guided',       1,    NULL,         '已指引并预约'),
  ('forensic',       1, 1, 'referred',     NULL, 'completed',  '已转介'),
  ('pro_mediation',  0, 1, 'settled',      NULL, 'completed',  '调解成功'),
  ('pro_mediation',  0, 2, 'not_settled',  NULL, 'completed',  '调解不成'),
  ('exam',           0, 1, 'answered',     NULL, 'completed',  '已解答'),
  ('resettlement',   0, 1, 'done',         NULL, 'completed',  '已帮扶'),
  ('prison_video',   0, 1, 'booked',       NULL, 'completed',  '已预约'),
  ('prison_video',   0, 2, 'no_show',      NULL, 'completed',  '未到场'),
  ('prison_video',   0, 3, 'done',         NULL, 'completed',  '已会见'),
  ('village_counsel',0, 1, 'given',        NULL, 'completed',  '已出具意见'),
  ('complaint',      0, 1, 'upheld',       NULL, 'completed',  '投诉成立'),
  ('complaint',      0, 2, 'rejected',     NULL, 'completed',  '投诉不成立');

INSERT INTO complaint_routes (subject, dept) VALUES
  ('lawyer',   'lawyer_admin'),
  ('notary',   'notary_admin'),
  ('mediator', 'grassroots'),
  ('staff',    'discipline');

INSERT INTO complaint_subject_of_service (service, subject) VALUES
  ('lawyer',        'lawyer'),
  ('legal_aid',     'lawyer'),
  ('notary',        'notary'),
  ('mediation',     'mediator'),
  ('pro_mediation', 'mediator'),
  ('consult',       'staff'),
  ('forensic',      'staff'),
  ('exam',          'staff'),
  ('resettlement',  'staff'),
  ('prison_video',  'staff'),
  ('village_counsel','staff');
